"""Plain MLPs as pure functions over a flat weight dict, for any array namespace.

The forward pass is written once against an array namespace ``xp``
(``array_api_compat.torch`` or ``jax.numpy``), so torch (training, Pyro) and
JAX (NumPyro) evaluate the very same formula on the very same weights. Weight
names follow the torch ``nn.Linear`` convention: ``<prefix>.<i>.weight`` is
(out, in) and ``<prefix>.<i>.bias`` is (out,).
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np


def dense_shapes(prefix: str, sizes: Sequence[int]) -> dict[str, tuple[int, ...]]:
    """Name -> shape for an MLP with layer widths ``sizes`` = (in, hidden..., out)."""
    shapes = {}
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        shapes[f"{prefix}.{i}.weight"] = (n_out, n_in)
        shapes[f"{prefix}.{i}.bias"] = (n_out,)
    return shapes


def init_dense(gen: np.random.Generator, prefix: str, sizes: Sequence[int],
               zero_last: bool = False) -> dict[str, np.ndarray]:
    """torch-style uniform(+-1/sqrt(fan_in)) initialisation, float32.

    ``zero_last`` zeroes the output layer so the net starts at output 0
    (flows then start at the identity map).
    """
    weights = {}
    last = len(sizes) - 2
    for name, shape in dense_shapes(prefix, sizes).items():
        layer = int(name.split(".")[-2])
        bound = 0.0 if zero_last and layer == last else 1.0 / math.sqrt(sizes[layer])
        weights[name] = gen.uniform(-bound, bound, size=shape).astype(np.float32)
    return weights


def silu(x: Any, xp: Any) -> Any:
    """x * sigmoid(x), from Array API primitives only."""
    return x / (1.0 + xp.exp(-x))


def dense_apply(params: Mapping[str, Any], prefix: str, x: Any, num_layers: int, xp: Any) -> Any:
    """Evaluate the MLP: (..., in) -> (..., out); SiLU between layers, none after the last."""
    h = x
    for i in range(num_layers):
        h = h @ params[f"{prefix}.{i}.weight"].T + params[f"{prefix}.{i}.bias"]
        if i < num_layers - 1:
            h = silu(h, xp)
    return h
