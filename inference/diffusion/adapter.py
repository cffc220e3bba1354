"""The array adapter diffusion samplers are written against, once for JAX and torch.

It extends the SMC adapter (``inference.smc.adapter``: keys, normal draws,
``take``, ``logsumexp``, ``to_numpy``) with what guidance needs: an
array-API namespace ``xp`` for the shared math, gradients of per-row
functions, and stopping gradients. Keys are JAX PRNG keys or integers for
torch, as in SMC, so every random function is pure on both backends.
"""
from __future__ import annotations

import importlib
from typing import Any

# backend -> module with `make_adapter(device)`; imported on first use.
ADAPTERS = {"numpyro": "inference.diffusion.adapter_backends:JaxDiffusionAdapter",
            "pyro": "inference.diffusion.adapter_backends:TorchDiffusionAdapter"}


def get_adapter(backend: str, device: str = "cpu") -> Any:
    """The diffusion adapter of a ppl backend ("numpyro" or "pyro").

    The adapter has the SMC adapter's methods plus:

    * ``xp``: array-API namespace (``jax.numpy`` or ``array_api_compat.torch``);
    * ``dtype``: the default float dtype of the backend;
    * ``value_and_grad(fn)``: for ``fn(u) -> (value (n,), aux)`` with rows of
      ``u`` (n, d) independent, a function ``u -> (value, grad (n, d), aux)``;
    * ``stop_gradient(x)``; ``is_tracer(x)`` (a JAX tracer inside ``jit``);
    * ``concat(arrays, axis)``;
    * ``scan(body, carry, xs)``: ``body(carry, x) -> carry`` along the leading
      axis of the pytree ``xs`` (``lax.scan`` on JAX, a loop on torch);
    * ``jit_shared(fn)``: ``jit`` with the arrays ``fn`` closes over lifted to
      arguments, so runs of the same structure share one compilation (JAX);
    * ``compiles``: whether ``jit`` compiles (JAX) rather than returning the
      function as is (torch).
    """
    module, cls = ADAPTERS[backend].split(":")
    return getattr(importlib.import_module(module), cls)(device)
