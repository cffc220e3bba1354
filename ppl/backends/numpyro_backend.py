"""The NumPyro (JAX) backend: arrays, ops, primitives and compiled programs."""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np
import numpyro
import numpyro.distributions as nd
from numpyro.distributions import constraints as ncons
from numpyro.infer import util as nutil

from ..errors import LoweringError
from ..ops import numpy_like_table
from .base import Backend


class NumPyroBackend(Backend):
    """Lowers to NumPyro; arrays are ``jax.Array`` on the requested device."""

    name = "numpyro"
    dist_module = nd
    constraints_module = ncons
    constraint_aliases = {"open_unit_interval": "unit_interval"}

    def __init__(self, device: str):
        self.device = device
        self.jax_device = _jax_device(device)
        self.ops = numpy_like_table("numpyro", jnp, jsp, jax.nn)
        self.sample = numpyro.sample
        self.deterministic = numpyro.deterministic
        self.factor = numpyro.factor

    def asarray(self, value: Any) -> Any:
        arr = np.asarray(value)
        if arr.dtype.kind == "f":
            arr = arr.astype(jnp.result_type(float))
        return jax.device_put(jnp.asarray(arr), self.jax_device)

    def _convert_constant(self, value: np.ndarray) -> Any:
        # numpy arrays and Python scalars stay host constants: jnp.asarray would
        # put a device_put in every traced model call (and compile once per new
        # shape), and Python scalars let NumPyro validate parameters eagerly.
        if value.dtype.kind == "f":
            value = value.astype(jnp.result_type(float))
        return value.item() if value.ndim == 0 else value

    def to_numpy(self, value: Any) -> np.ndarray:
        return np.asarray(value)

    def plate(self, name: str, size: int, dim: int) -> Any:
        return numpyro.plate(name, size, dim=dim)

    def param(self, name: str, init: Any, support: Any) -> Any:
        return numpyro.param(name, init, constraint=self.constraint(support))

    def truncated(self, base: Any, low: Any, high: Any) -> Any:
        return nd.TruncatedDistribution(base, low=low, high=high)

    def program(self, graph: Any) -> "NumPyroProgram":
        from .numpyro_program import NumPyroProgram

        return NumPyroProgram(graph, self)


def _jax_device(device: str) -> Any:
    if device == "cpu":
        return jax.devices("cpu")[0]
    try:
        return jax.devices("gpu")[0]
    except RuntimeError:
        raise LoweringError(
            "device 'cuda' was requested but JAX sees no GPU; install a CUDA build of jax "
            "(pip install -U 'jax[cuda12]') or use device='cpu'") from None


def make_backend(device: str) -> NumPyroBackend:
    return NumPyroBackend(device)


__all__ = ["NumPyroBackend", "make_backend", "nutil"]
