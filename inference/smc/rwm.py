"""Random-walk Metropolis over batches of particles, one independent chain each.

Pure ``init``/``step`` functions on (C, N, D) positions: C SMC runs of N
particles. The proposal covariance of each run comes from its particle cloud
(see :func:`params_from_particles`), which is what makes a random walk work
inside SMC without per-particle tuning.
"""
from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

from .adapter import ArrayAdapter
from .batched import select


class RWMState(NamedTuple):
    """position (C, N, D); log_prior, log_lik (C, N)."""

    position: Any
    log_prior: Any
    log_lik: Any


class RWMParams(NamedTuple):
    """beta: inverse temperatures (C, 1); chol: proposal Cholesky factors (C, D, D)."""

    beta: Any
    chol: Any


class MoveInfo(NamedTuple):
    """acceptance: per-particle acceptance probability (C, N)."""

    acceptance: Any


def tempered(xp: ArrayAdapter, log_prior: Any, log_lik: Any, beta: Any) -> Any:
    """log prior + beta * log lik, where beta = 0 silences a -inf likelihood."""
    return log_prior + xp.where(beta > 0, beta * log_lik, 0.0 * log_prior)


def metropolis(xp: ArrayAdapter, uniform: Any, log_ratio: Any) -> tuple[Any, Any]:
    """Accept flags and acceptance probabilities (C, N) from uniforms (C, N) on [0, 1).

    NaN ratios are rejected.
    """
    log_ratio = xp.where(log_ratio == log_ratio, log_ratio, -math.inf)
    accept = xp.log(uniform) < log_ratio
    return accept, xp.exp(xp.clip(log_ratio, -math.inf, 0.0))


def init(log_parts: Callable[[Any], Any], position: Any) -> RWMState:
    log_prior, log_lik = log_parts(position)
    return RWMState(position, log_prior, log_lik)


def step(log_parts: Callable[[Any], Any], xp: ArrayAdapter, normal: Any, uniform: Any,
         state: RWMState, params: RWMParams) -> tuple[RWMState, MoveInfo]:
    """One Metropolis step of every particle at inverse temperatures ``params.beta``.

    Args:
        normal: (C, N, D) standard normals (the proposal); uniform: (C, N) on [0, 1).
    """
    proposal = state.position + normal @ xp.ns.matrix_transpose(params.chol)
    log_prior, log_lik = log_parts(proposal)
    log_ratio = (tempered(xp, log_prior, log_lik, params.beta)
                 - tempered(xp, state.log_prior, state.log_lik, params.beta))
    accept, prob = metropolis(xp, uniform, log_ratio)
    return select(xp.ns, accept, RWMState(proposal, log_prior, log_lik), state), MoveInfo(prob)


def params_from_particles(xp: ArrayAdapter, position: Any, beta: Any, scale: Any) -> RWMParams:
    """Proposal covariance scale^2 * 2.38^2 / D * Cov(particles) per chain (Roberts & Rosenthal).

    Args:
        position: (C, N, D) equally weighted particles.
        beta, scale: (C,) inverse temperatures and proposal scales.
    """
    ns, (n, dim) = xp.ns, position.shape[1:]
    centered = position - ns.mean(position, axis=1, keepdims=True)
    cov = ns.matrix_transpose(centered) @ centered / (n - 1)
    # A jitter of a few ulps of the variances keeps a collapsed cloud factorizable.
    jitter = 1e-10 + 16 * float(ns.finfo(position.dtype).eps) * ns.mean(
        ns.sum(centered * centered, axis=1), axis=-1) / (n - 1)
    cov = cov + jitter[:, None, None] * xp.eye(dim, position.dtype)
    chol = xp.cholesky(cov) * (scale * (2.38 / math.sqrt(dim)))[:, None, None]
    return RWMParams(beta[:, None], chol)
