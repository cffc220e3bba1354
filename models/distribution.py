"""Learned priors as ``ppl`` distributions: ``x = ppl.sample("x", prior.as_distribution())``.

``LearnedDistribution`` is the backend-neutral spec; when a model is lowered
it builds a NumPyro or Pyro distribution (``models.native_numpyro`` /
``models.native_pyro``, registered in ``NATIVE``) that evaluates the prior's
own ``log_prob`` on that backend and samples by pushing the backend's
Gaussian noise (a JAX key, torch's global RNG) through
``prior.sample_from_noise``.

A prior used this way provides ``event_shape``, ``dim``, ``noise_shape(n)``,
``sample_from_noise(noise[, context])``, ``log_prob(x[, context])`` and
``to(backend, dtype)``. The conditioning context, if any, is a constant fixed
when the distribution is made. Plates around a learned prior are not supported.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable

import numpy as np

from ppl import constraints as C
from ppl.distributions import ExternalDistribution

# ppl backend name -> (module with `make(spec, device)`, array backend of the prior)
NATIVE = {"numpyro": ("models.native_numpyro", "jax"), "pyro": ("models.native_pyro", "torch")}


def real_support(event_dim: int) -> C.Constraint:
    """Finite reals over ``event_dim`` trailing dims."""
    if event_dim == 1:
        return C.real_vector
    axes = tuple(range(-event_dim, 0))
    return C.Constraint(f"real^{event_dim}", lambda v: np.isfinite(v).all(axis=axes), event_dim=event_dim)


class LearnedDistribution(ExternalDistribution):
    """A trained prior (flow, diffusion) as a distribution over R^event_shape.

    Args:
        prior: the trained prior (any backend; it is converted when lowered).
        context: constant conditioning vector (c,) for a conditional flow.
        log_prob_options: extra keyword arguments of ``prior.log_prob``
            (e.g. ``num_steps`` of a diffusion prior's ODE).
        sample_options: extra keyword arguments of ``prior.noise_shape`` and
            ``prior.sample_from_noise`` (e.g. a diffusion ``sampler``, ``num_steps``).
    """

    def __init__(self, prior: Any, context: Any = None, log_prob_options: dict[str, Any] | None = None,
                 sample_options: dict[str, Any] | None = None):
        self.prior = prior
        self.context = None if context is None else np.asarray(context, dtype=np.float64)
        self.log_prob_options = dict(log_prob_options or {})
        self.sample_options = dict(sample_options or {})
        self.event_shape = tuple(prior.event_shape)
        self.batch_shape = ()
        self._on: dict[tuple[str, str], Any] = {}

    @property
    def support(self) -> C.Constraint:
        return real_support(len(self.event_shape))

    def on(self, backend: str, dtype: str) -> Any:
        """The prior on an array backend and dtype (cached: lowering runs often)."""
        key = (backend, dtype)
        if key not in self._on:
            self._on[key] = self.prior.to(backend, dtype)
        return self._on[key]

    def context_kwargs(self) -> dict[str, Any]:
        return {} if self.context is None else {"context": self.context}

    def log_prob(self, prior: Any, flat: Any) -> Any:
        """``prior.log_prob`` of (n, *event_shape) values with the bound context and options."""
        return prior.log_prob(flat, **self.context_kwargs(), **self.log_prob_options)

    def noise_shape(self, prior: Any, n: int) -> tuple[int, ...]:
        return prior.noise_shape(n, **self.sample_options)

    def sample_from_noise(self, prior: Any, noise: Any) -> Any:
        return prior.sample_from_noise(noise, **self.context_kwargs(), **self.sample_options)

    def lower(self, backend: str, device: str) -> Any:
        if backend not in NATIVE:
            raise NotImplementedError(f"{type(self.prior).__name__} cannot be lowered to {backend!r}")
        make: Callable[..., Any] = importlib.import_module(NATIVE[backend][0]).make
        return make(self, device)

    def label(self, name_of: Callable[..., str]) -> str:
        return f"{type(self.prior).__name__}(event_shape={self.event_shape})"
