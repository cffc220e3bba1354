"""JAX implementation of the MLP denoiser as pure functions over a dict.

``params`` is a flat dict name -> array using the names of
``models.nets.spec.param_shapes``; it is a valid pytree, so ``apply`` can be
jitted, vmapped and differentiated.
"""
from __future__ import annotations

from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from models.nets.convert import check_params, numpy_to_jax
from models.nets.spec import MLPConfig, embedding_frequencies

Params = Mapping[str, jax.Array]


def _linear(params: Params, name: str, x: jax.Array) -> jax.Array:
    return x @ params[f"{name}.weight"].T + params[f"{name}.bias"]


def sinusoidal_embedding(c_noise: jax.Array, config: MLPConfig) -> jax.Array:
    """(n,) -> (n, time_embed_dim) as [cos(c f), sin(c f)]."""
    freqs = embedding_frequencies(config, jnp, c_noise.dtype)
    args = c_noise[:, None] * freqs[None, :]
    return jnp.concatenate([jnp.cos(args), jnp.sin(args)], axis=-1)


def apply(params: Params, x: jax.Array, c_noise: jax.Array, config: MLPConfig) -> jax.Array:
    """Evaluate the denoiser network.

    Args:
        params: weights keyed by the shared naming scheme.
        x: noisy inputs, shape (n, data_dim).
        c_noise: noise conditioning values, shape (n,).
        config: the architecture (static).

    Returns:
        Network output, shape (n, data_dim).
    """
    act = jax.nn.silu
    temb = _linear(params, "time_out", act(_linear(params, "time_in", sinusoidal_embedding(c_noise, config))))
    h = _linear(params, "input", x)
    for i in range(config.num_blocks):
        h = h + _linear(params, f"blocks.{i}", act(h + temb))
    return _linear(params, "output", act(h))


def from_numpy(config: MLPConfig, arrays: Mapping[str, np.ndarray], dtype: Any = None) -> dict[str, jax.Array]:
    """Checked numpy weights -> JAX params dict."""
    check_params(arrays, config)
    return numpy_to_jax(arrays, dtype=dtype)
