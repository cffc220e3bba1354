"""Embedding networks on x, pure functions over a flat weight dict (torch or JAX).

* ``identity``: the standardised, flattened x is the context.
* ``mlp``: an MLP on the flattened x.
* ``set``: DeepSets for i.i.d. observations x of shape (m, k) (or (m,)):
  rho(mean_j phi(x_j)), invariant to permuting the m rows.

Weights are named ``embed.phi.<i>`` / ``embed.rho.<i>`` / ``embed.mlp.<i>`` in
the ``nn.Linear`` convention of ``models.nets.dense``, so one checkpoint runs
on both backends, and the embedding trains jointly with the density estimator.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from models.nets.dense import dense_apply, dense_shapes, init_dense
from ppl.errors import ShapeError

from .config import EmbeddingConfig


def set_shape(config: EmbeddingConfig, x_shape: tuple[int, ...]) -> tuple[int, int]:
    """(m, k): rows and features per row of a set-embedded x; (1, dim) otherwise."""
    dim = int(np.prod(x_shape, dtype=np.int64))
    if config.kind != "set":
        return 1, dim
    if len(x_shape) == 0:
        raise ShapeError("a set embedding needs x of shape (m,) or (m, k): i.i.d. rows", site=None)
    return x_shape[0], dim // x_shape[0]


def output_dim(config: EmbeddingConfig, x_shape: tuple[int, ...]) -> int:
    """Size of the context vector the embedding produces."""
    return int(np.prod(x_shape, dtype=np.int64)) if config.kind == "identity" else config.output_dim


def _mlp_sizes(config: EmbeddingConfig, n_in: int, n_out: int) -> list[int]:
    return [n_in] + [config.hidden_dim] * config.num_hidden + [n_out]


def _nets(config: EmbeddingConfig, x_shape: tuple[int, ...]) -> dict[str, list[int]]:
    """Prefix -> layer widths of each MLP of the embedding."""
    _, k = set_shape(config, x_shape)
    if config.kind == "mlp":
        return {"embed.mlp": _mlp_sizes(config, k, config.output_dim)}
    if config.kind == "set":
        return {"embed.phi": _mlp_sizes(config, k, config.hidden_dim),
                "embed.rho": _mlp_sizes(config, config.hidden_dim, config.output_dim)}
    return {}


def param_shapes(config: EmbeddingConfig, x_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    shapes = {}
    for prefix, sizes in _nets(config, x_shape).items():
        shapes.update(dense_shapes(prefix, sizes))
    return shapes


def init_weights(config: EmbeddingConfig, x_shape: tuple[int, ...], gen: np.random.Generator) -> dict[str, np.ndarray]:
    weights = {}
    for prefix, sizes in _nets(config, x_shape).items():
        weights.update(init_dense(gen, prefix, sizes))
    return weights


def apply(params: Mapping[str, Any], config: EmbeddingConfig, x: Any, x_shape: tuple[int, ...], xp: Any) -> Any:
    """Context (n, output_dim) from standardised flat x (n, dim)."""
    depth = config.num_hidden + 1
    if config.kind == "mlp":
        return dense_apply(params, "embed.mlp", x, depth, xp)
    if config.kind == "set":
        m, k = set_shape(config, x_shape)
        rows = dense_apply(params, "embed.phi", xp.reshape(x, (x.shape[0], m, k)), depth, xp)
        return dense_apply(params, "embed.rho", xp.mean(rows, axis=1), depth, xp)
    return x
