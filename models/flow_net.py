"""The coupling flow as pure functions over a flat weight dict (torch or JAX).

Layer ``i`` keeps the dims with ``(j + i) % 2 == 0`` fixed and transforms the
others elementwise, with parameters from an MLP ``layers.i`` that sees the
fixed dims (the others masked to zero) and the context::

    z = f_L o ... o f_1 (u),     log p(u) = log N(z; 0, I) + sum_i log|det J_i|

Masks multiply instead of index, so the same code runs on every namespace.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from models.couplings import COUPLINGS
from models.flow_config import FlowConfig
from models.nets.dense import dense_apply, dense_shapes, init_dense


def _sizes(config: FlowConfig) -> list[int]:
    out = config.dim * COUPLINGS[config.coupling].num_params(config)
    return [config.dim + config.context_dim] + [config.hidden_dim] * config.num_hidden + [out]


def param_shapes(config: FlowConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every weight (identical on both backends)."""
    shapes = {}
    for i in range(config.num_layers):
        shapes.update(dense_shapes(f"layers.{i}", _sizes(config)))
    return shapes


def init_weights(config: FlowConfig, seed: int) -> dict[str, np.ndarray]:
    """Seeded float32 weights; output layers are zero, so the flow starts as the identity."""
    gen = np.random.default_rng(seed)
    weights = {}
    for i in range(config.num_layers):
        weights.update(init_dense(gen, f"layers.{i}", _sizes(config), zero_last=True))
    return weights


def _mask(config: FlowConfig, layer: int, like: Any, xp: Any) -> Any:
    """1 on the dims layer ``layer`` keeps fixed, 0 on those it transforms; shape (d,)."""
    keep = (np.arange(config.dim) + layer) % 2 == 0
    return xp.asarray(keep.astype(np.float64), dtype=like.dtype, device=_device(like))


def _device(x: Any) -> Any:
    from array_api_compat import device

    return device(x)


def _layer(params, config, i, x, context, inverse, xp) -> tuple[Any, Any]:
    mask = _mask(config, i, x, xp)
    fixed = x * mask
    net_in = fixed if context is None else xp.concat([fixed, context], axis=-1)
    raw = dense_apply(params, f"layers.{i}", net_in, config.num_hidden + 1, xp)
    raw = xp.reshape(raw, (x.shape[0], config.dim, -1))
    moved, log_det = COUPLINGS[config.coupling].transform(x, raw, inverse, config, xp)
    return fixed + (1.0 - mask) * moved, xp.sum((1.0 - mask) * log_det, axis=-1)


def forward(params: Mapping[str, Any], config: FlowConfig, u: Any, context: Any, xp: Any) -> tuple[Any, Any]:
    """u (n, d) -> (z (n, d), log|det dz/du| (n,)); context (n, c) or None."""
    total = xp.zeros_like(u[:, 0])
    for i in range(config.num_layers):
        u, log_det = _layer(params, config, i, u, context, False, xp)
        total = total + log_det
    return u, total


def inverse(params: Mapping[str, Any], config: FlowConfig, z: Any, context: Any, xp: Any) -> Any:
    """z (n, d) -> u (n, d), the exact inverse of ``forward``."""
    for i in reversed(range(config.num_layers)):
        z, _ = _layer(params, config, i, z, context, True, xp)
    return z


def log_prob(params: Mapping[str, Any], config: FlowConfig, u: Any, context: Any, xp: Any) -> Any:
    """log density of u (n, d) under the flow (flow space), shape (n,)."""
    z, log_det = forward(params, config, u, context, xp)
    return -0.5 * xp.sum(z * z, axis=-1) - 0.5 * config.dim * math.log(2 * math.pi) + log_det
