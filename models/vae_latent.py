"""A VAE's decoder inside a ``ppl`` model: z is a latent site, x = decoder(z) deterministic.

Samplers (NUTS, SMC) then run over z, where the prior is exactly N(0, I);
the decoder enters the graph through ``ppl.numeric`` with one implementation
per backend (numpy for shape checks, JAX for NumPyro, torch for Pyro).
"""
from __future__ import annotations

from typing import Any

import numpy as np

import ppl
from ppl import dist

_BACKEND_OF = {"numpy": None, "numpyro": "jax", "pyro": "torch"}


def _dtype_name(z: Any) -> str:
    return "float64" if "float64" in str(z.dtype) else "float32"


class _Decoders:
    """Decoder mean per ppl backend, on a prior converted once per dtype."""

    def __init__(self, prior: Any):
        self.prior, self._on = prior, {}

    def _on_backend(self, backend: str, dtype: str) -> Any:
        if (backend, dtype) not in self._on:
            self._on[(backend, dtype)] = self.prior.to(backend, dtype)
        return self._on[(backend, dtype)]

    def numpy(self, z: np.ndarray) -> np.ndarray:
        prior = self._on_backend("torch", "float64")
        return prior.decode(np.asarray(z, dtype=np.float64)).numpy().astype(np.asarray(z).dtype)

    def for_backend(self, ppl_backend: str):
        backend = _BACKEND_OF[ppl_backend]
        return lambda z: self._on_backend(backend, _dtype_name(z)).decode(z)


def decoder_function(prior: Any) -> Any:
    """The decoder mean as a ``ppl.numeric`` function z (..., k) -> (..., *event_shape)."""
    decoders = _Decoders(prior)
    return ppl.numeric(name=f"{type(prior).__name__}.decode", numpy=decoders.numpy,
                       numpyro=decoders.for_backend("numpyro"), pyro=decoders.for_backend("pyro"))


def latent_sample(prior: Any, name: str, latent_name: str | None = None) -> Any:
    """z ~ N(0, I_k) as a site, and x = decoder(z) as deterministic site ``name``."""
    z = ppl.sample(latent_name or f"{name}_z", dist.Normal(np.zeros(prior.latent_dim), 1.0).to_event(1))
    decode = getattr(prior, "_ppl_decoder", None)
    if decode is None:  # one numeric function per prior, so graphs reuse the converted weights
        decode = prior._ppl_decoder = decoder_function(prior)
    return ppl.deterministic(name, decode(z))
