"""Resampling schemes, written once against an :class:`ArrayAdapter`.

Each scheme maps normalized weights to ancestor indices by inverting the
weights' CDF at N points in [0, 1); the schemes differ only in how the
points are drawn (one shared uniform, one per stratum, or i.i.d.), which is
where their variance differs: systematic <= stratified <= multinomial.
"""
from __future__ import annotations

from typing import Any, Callable

from .adapter import ArrayAdapter
from .batched import logsumexp


def _invert_cdf(xp: ArrayAdapter, log_weights: Any, points: Any) -> Any:
    """Ancestor indices (N,) for points (N,) in [0, 1) under weights exp(log_weights)."""
    weights = xp.exp(log_weights - xp.logsumexp(log_weights))
    cdf = xp.cumsum(weights)
    # Rounding can leave cdf[-1] slightly below 1; clip keeps indices in range.
    return xp.clip(xp.searchsorted(cdf, points * cdf[-1]), 0, log_weights.shape[0] - 1)


def systematic(xp: ArrayAdapter, key: Any, log_weights: Any) -> Any:
    """One uniform shifted across N evenly spaced strata."""
    n = log_weights.shape[0]
    points = (xp.uniform(key, (1,)) + xp.arange(n)) / n
    return _invert_cdf(xp, log_weights, points)


def stratified(xp: ArrayAdapter, key: Any, log_weights: Any) -> Any:
    """One independent uniform inside each of N evenly spaced strata."""
    n = log_weights.shape[0]
    points = (xp.uniform(key, (n,)) + xp.arange(n)) / n
    return _invert_cdf(xp, log_weights, points)


def multinomial(xp: ArrayAdapter, key: Any, log_weights: Any) -> Any:
    """N i.i.d. draws from the weights."""
    return _invert_cdf(xp, log_weights, xp.uniform(key, (log_weights.shape[0],)))


# name -> scheme(xp, key, log_weights (N,)) -> ancestor indices (N,)
RESAMPLERS: dict[str, Callable[[ArrayAdapter, Any, Any], Any]] = {
    "systematic": systematic, "stratified": stratified, "multinomial": multinomial,
}


# name -> points(draw, arange (N,)) -> (C, N) in [0, 1); draw(shape) gives (C, *shape) uniforms.
POINTS: dict[str, Callable[[Callable[..., Any], Any], Any]] = {
    "systematic": lambda draw, arange: (draw((1,)) + arange) / arange.shape[0],
    "stratified": lambda draw, arange: (draw(arange.shape) + arange) / arange.shape[0],
    "multinomial": lambda draw, arange: draw(arange.shape),
}


def resample_each(xp: ArrayAdapter, scheme: str, uniforms: Any, log_weights: Any) -> Any:
    """Ancestor indices (C, N) of C chains.

    Args:
        scheme: a name in :data:`RESAMPLERS`.
        uniforms: (C, N) independent uniforms on [0, 1) (systematic uses the first).
        log_weights: (C, N) unnormalized log weights of each chain's particles.
    """
    ns, n = xp.ns, log_weights.shape[-1]
    points = POINTS[scheme](lambda shape: uniforms[:, :shape[0]], xp.arange(n))
    cdf = ns.cumulative_sum(ns.exp(log_weights - logsumexp(ns, log_weights, keepdims=True)),
                            axis=-1)
    # Rounding can leave cdf[-1] slightly below 1; clip keeps indices in range.
    return ns.clip(xp.searchsorted_each(cdf, points * cdf[:, -1:]), 0, n - 1)
