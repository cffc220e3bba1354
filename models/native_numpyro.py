"""NumPyro distribution wrapping a learned prior (see ``models.distribution``)."""
from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
from numpyro import distributions as dist
from numpyro.distributions import constraints


class NumPyroLearned(dist.Distribution):
    """log_prob and sample from the prior's JAX implementation, in the value's dtype."""

    arg_constraints: dict = {}
    pytree_aux_fields = ("spec",)

    def __init__(self, spec: Any, batch_shape: tuple[int, ...] = ()):
        self.spec = spec
        super().__init__(batch_shape=batch_shape, event_shape=spec.event_shape, validate_args=False)

    @property
    def support(self) -> Any:
        return constraints.independent(constraints.real, len(self.event_shape))

    def _prior(self, dtype: Any) -> Any:
        return self.spec.on("jax", "float64" if dtype == jnp.float64 else "float32")

    def sample(self, key: jax.Array, sample_shape: tuple[int, ...] = ()) -> jax.Array:
        shape = tuple(sample_shape) + self.batch_shape
        prior = self._prior(jnp.result_type(float))
        noise = jax.random.normal(key, self.spec.noise_shape(prior, math.prod(shape)), prior.backend.dtype)
        draws = self.spec.sample_from_noise(prior, noise)
        return jnp.reshape(draws, shape + self.event_shape)

    def log_prob(self, value: jax.Array) -> jax.Array:
        batch = jnp.shape(value)[: jnp.ndim(value) - len(self.event_shape)]
        prior = self._prior(jnp.result_type(value))
        flat = jnp.reshape(value, (-1, *self.event_shape))
        return jnp.reshape(self.spec.log_prob(prior, flat), batch)


def make(spec: Any, device: str) -> NumPyroLearned:
    """Weights are placed by JAX's default device, which the backend's arrays also use."""
    return NumPyroLearned(spec)
