"""The JAX array adapter."""
from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp


class JaxAdapter:
    """:class:`~inference.smc.adapter.ArrayAdapter` over ``jax.numpy``."""

    name = "numpyro"

    def __init__(self, device: str = "cpu"):
        self.device = jax.devices("gpu" if device == "cuda" else "cpu")[0]

    def asarray(self, x: Any) -> Any:
        arr = np.asarray(x)
        if arr.dtype.kind == "f":
            arr = arr.astype(jnp.result_type(float))
        return jax.device_put(jnp.asarray(arr), self.device)

    def to_numpy(self, x: Any) -> np.ndarray:
        return np.asarray(x)

    def key(self, seed: int) -> Any:
        return jax.random.PRNGKey(seed)

    def split(self, key: Any, n: int) -> list[Any]:
        return list(jax.random.split(key, n))

    def uniform(self, key: Any, shape: tuple[int, ...]) -> Any:
        return jax.random.uniform(key, shape, dtype=jnp.result_type(float))

    def normal(self, key: Any, shape: tuple[int, ...]) -> Any:
        return jax.random.normal(key, shape, dtype=jnp.result_type(float))

    arange = staticmethod(jnp.arange)
    searchsorted = staticmethod(jnp.searchsorted)
    clip = staticmethod(jnp.clip)
    where = staticmethod(jnp.where)
    exp = staticmethod(jnp.exp)
    log = staticmethod(jnp.log)

    def cumsum(self, x: Any) -> Any:
        return jnp.cumsum(x)

    def take(self, x: Any, idx: Any) -> Any:
        return jnp.take(x, idx, axis=0)

    def logsumexp(self, x: Any) -> Any:
        return logsumexp(x)

    def jit(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return jax.jit(fn)

    # -- batched chains: arrays with a leading chain dim C ------------------------------------
    ns = jnp

    def searchsorted_each(self, sorted_x: Any, values: Any) -> Any:
        return jax.vmap(jnp.searchsorted)(sorted_x, values)

    def take_each(self, x: Any, idx: Any) -> Any:
        return jax.vmap(lambda a, i: jnp.take(a, i, axis=0))(x, idx)

    def eye(self, n: int, dtype: Any) -> Any:
        return jnp.eye(n, dtype=dtype)

    def cholesky(self, x: Any) -> Any:
        return jnp.linalg.cholesky(x)  # NaN where x is not positive definite

    def fori_loop(self, n: int, body: Callable[[Any], Any], state: Any) -> Any:
        return jax.lax.fori_loop(0, n, lambda _, s: body(s), state)


def make_adapter(device: str = "cpu") -> JaxAdapter:
    return JaxAdapter(device)
