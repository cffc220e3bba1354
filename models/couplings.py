"""Elementwise coupling transforms, written once for torch and JAX.

Each transform maps x (n, d) elementwise, given raw network outputs
``raw`` (n, d, k), to (y, log|dy/dx|) of shapes (n, d) and (n, d); ``inverse``
maps y back to x and returns log|dy/dx| at that x (the caller negates it).
Only Array API functions are used (``xp`` is ``array_api_compat.torch`` or
``jax.numpy``), so both backends run the same formula; bins are selected with
one-hot masks instead of gathers, which every namespace supports and which
stay differentiable.

Registered in ``COUPLINGS`` by name: ``"affine"`` (RealNVP) and ``"spline"``
(rational-quadratic spline with linear tails, Durkan et al. 2019).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from array_api_compat import device as array_device

MIN_BIN = 1e-3
MIN_DERIVATIVE = 1e-3
# softplus(0 + shift) + MIN_DERIVATIVE == 1, so zero net outputs give the identity.
_DERIVATIVE_SHIFT = math.log(math.expm1(1.0 - MIN_DERIVATIVE))


def softplus(a: Any, xp: Any) -> Any:
    return xp.log(1.0 + xp.exp(-xp.abs(a))) + xp.maximum(a, xp.zeros_like(a))


def softmax(a: Any, xp: Any) -> Any:
    e = xp.exp(a - xp.max(a, axis=-1, keepdims=True))
    return e / xp.sum(e, axis=-1, keepdims=True)


def affine(x: Any, raw: Any, inverse: bool, clamp: float, xp: Any) -> tuple[Any, Any]:
    """y = x exp(s) + t with s = clamp tanh(raw_s / clamp); raw (n, d, 2)."""
    log_scale = clamp * xp.tanh(raw[..., 0] / clamp)
    shift = raw[..., 1]
    if inverse:
        return (x - shift) * xp.exp(-log_scale), log_scale
    return x * xp.exp(log_scale) + shift, log_scale


def _knots(raw: Any, bound: float, xp: Any) -> Any:
    """Bin edges in [-bound, bound], shape (..., K + 1), from raw sizes (..., K)."""
    num_bins = raw.shape[-1]
    sizes = MIN_BIN + (1.0 - MIN_BIN * num_bins) * softmax(raw, xp)
    inner = 2.0 * bound * xp.cumulative_sum(sizes[..., :-1], axis=-1) - bound
    edge = xp.ones_like(raw[..., :1]) * bound
    return xp.concat([-edge, inner, edge], axis=-1)


def _pick(onehot: Any, values: Any, xp: Any) -> Any:
    return xp.sum(onehot * values, axis=-1)


def _bin_params(x: Any, raw: Any, bound: float, inverse: bool, xp: Any) -> dict[str, Any]:
    """Left edges, sizes and end derivatives of the bin holding each x (all (n, d))."""
    num_bins = (raw.shape[-1] + 1) // 3
    xs = _knots(raw[..., :num_bins], bound, xp)
    ys = _knots(raw[..., num_bins:2 * num_bins], bound, xp)
    one = xp.ones_like(raw[..., :1])
    inner = MIN_DERIVATIVE + softplus(raw[..., 2 * num_bins:] + _DERIVATIVE_SHIFT, xp)
    derivs = xp.concat([one, inner, one], axis=-1)
    edges = ys if inverse else xs
    index = xp.sum(xp.astype(x[..., None] >= edges[..., 1:num_bins], xp.int32), axis=-1)
    bins = xp.arange(num_bins, dtype=xp.int32, device=array_device(x))
    onehot = xp.astype(index[..., None] == bins, x.dtype)
    return {"x0": _pick(onehot, xs[..., :-1], xp), "w": _pick(onehot, xs[..., 1:] - xs[..., :-1], xp),
            "y0": _pick(onehot, ys[..., :-1], xp), "h": _pick(onehot, ys[..., 1:] - ys[..., :-1], xp),
            "d0": _pick(onehot, derivs[..., :-1], xp), "d1": _pick(onehot, derivs[..., 1:], xp)}


def _spline_inverse_xi(y: Any, p: dict[str, Any], xp: Any) -> Any:
    """Position xi in [0, 1] inside the bin, solving the quadratic for y."""
    slope = p["h"] / p["w"]
    dy = y - p["y0"]
    curvature = p["d1"] + p["d0"] - 2.0 * slope
    a = p["h"] * (slope - p["d0"]) + dy * curvature
    b = p["h"] * p["d0"] - dy * curvature
    c = -slope * dy
    disc = xp.maximum(b * b - 4.0 * a * c, xp.zeros_like(b))
    return 2.0 * c / (-b - xp.sqrt(disc))


def spline(x: Any, raw: Any, inverse: bool, bound: float, xp: Any) -> tuple[Any, Any]:
    """Rational-quadratic spline on [-bound, bound], identity outside.

    raw: (n, d, 3K - 1) = K widths, K heights, K - 1 inner derivatives.
    """
    inside = (x >= -bound) & (x <= bound)
    # Evaluate the spline at a clipped input so the unused branch stays finite
    # (NaNs in an unselected `where` branch would still poison gradients).
    xc = xp.minimum(xp.maximum(x, -bound * xp.ones_like(x)), bound * xp.ones_like(x))
    p = _bin_params(xc, raw, bound, inverse, xp)
    slope = p["h"] / p["w"]
    xi = _spline_inverse_xi(xc, p, xp) if inverse else (xc - p["x0"]) / p["w"]
    omx = xi * (1.0 - xi)
    denom = slope + (p["d1"] + p["d0"] - 2.0 * slope) * omx
    numer_d = p["d1"] * xi * xi + 2.0 * slope * omx + p["d0"] * (1.0 - xi) ** 2
    log_det = 2.0 * xp.log(slope) + xp.log(numer_d) - 2.0 * xp.log(denom)
    if inverse:
        out = p["x0"] + xi * p["w"]
    else:
        out = p["y0"] + p["h"] * (slope * xi * xi + p["d0"] * omx) / denom
    return xp.where(inside, out, x), xp.where(inside, log_det, xp.zeros_like(x))


@dataclass(frozen=True)
class Coupling:
    """A registered coupling: raw outputs per dimension and the transform."""

    num_params: Callable[[Any], int]
    transform: Callable[..., tuple[Any, Any]]


COUPLINGS = {
    "affine": Coupling(lambda cfg: 2, lambda x, raw, inv, cfg, xp: affine(x, raw, inv, cfg.affine_clamp, xp)),
    "spline": Coupling(lambda cfg: 3 * cfg.num_bins - 1,
                       lambda x, raw, inv, cfg, xp: spline(x, raw, inv, cfg.tail_bound, xp)),
}
