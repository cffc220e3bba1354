"""Reductions and masking over the last (particle) axis of (C, N, ...) chain batches.

Written against the array-API namespace ``xp.ns`` of an
:class:`~inference.smc.adapter.ArrayAdapter`, so both backends share them.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from .adapter import ArrayAdapter


def logsumexp(ns: Any, x: Any, keepdims: bool = False) -> Any:
    """log sum exp over the last axis; -inf where every entry is -inf."""
    top = ns.max(x, axis=-1, keepdims=True)
    top = ns.where(ns.isfinite(top), top, ns.zeros_like(top))
    out = ns.log(ns.sum(ns.exp(x - top), axis=-1, keepdims=True)) + top
    return out if keepdims else out[..., 0]


def ess(ns: Any, log_weights: Any) -> Any:
    """Effective sample size 1 / sum w^2 of normalized weights, per chain: (C, N) -> (C,)."""
    return ns.exp(2 * logsumexp(ns, log_weights) - logsumexp(ns, 2 * log_weights))


def reweight(ns: Any, log_lik: Any, delta: Any) -> Any:
    """Incremental log weights delta * log_lik (C, N) for steps delta (C,); -inf stays -inf."""
    return ns.where(ns.isneginf(log_lik), -float("inf"), delta[:, None] * log_lik)


def select(ns: Any, mask: Any, new: Any, old: Any) -> Any:
    """``new`` where the mask (C,) or (C, N) holds, else ``old``; arrays or NamedTuples of them."""
    if isinstance(old, tuple):
        return type(old)(*(select(ns, mask, a, b) for a, b in zip(new, old)))
    return ns.where(ns.reshape(mask, mask.shape + (1,) * (old.ndim - mask.ndim)), new, old)


class ChainBatched(NamedTuple):
    """A target's batched functions lifted from (M, D) rows to (C, N, D) chain batches.

    Attributes:
        log_parts: (C, N, D) -> (log_prior, log_lik), each (C, N).
        log_parts_and_grads: (C, N, D) -> (log_prior, log_lik, grad_prior, grad_lik).
    """

    log_parts: Any
    log_parts_and_grads: Any


def chain_batched(xp: ArrayAdapter, target: Any) -> ChainBatched:
    """Evaluates all chains' particles in one call of the target (one batch of C * N)."""

    def lift(fn: Any) -> Any:
        def call(position: Any) -> tuple[Any, ...]:
            chains, n, dim = position.shape
            out = fn(xp.ns.reshape(position, (chains * n, dim)))
            return tuple(xp.ns.reshape(o, (chains, n) + tuple(o.shape[1:])) for o in out)
        return call

    return ChainBatched(lift(target.log_parts), lift(target.log_parts_and_grads))
