"""Random-walk Metropolis over a batch of particles, one independent chain each.

Pure ``init``/``step`` functions; the proposal covariance comes from the
particle cloud (see :func:`params_from_particles`), which is what makes a
random walk work inside SMC without per-chain tuning.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

from .adapter import ArrayAdapter


class RWMState(NamedTuple):
    """position (N, D); log_prior, log_lik (N,)."""

    position: Any
    log_prior: Any
    log_lik: Any


class RWMParams(NamedTuple):
    """beta: inverse temperature (scalar); chol: proposal Cholesky factor (D, D)."""

    beta: Any
    chol: Any


class MoveInfo(NamedTuple):
    """acceptance: per-particle acceptance probability (N,)."""

    acceptance: Any


def tempered(xp: ArrayAdapter, log_prior: Any, log_lik: Any, beta: Any) -> Any:
    """log prior + beta * log lik, where beta = 0 silences a -inf likelihood."""
    return log_prior + xp.where(beta > 0, beta * log_lik, 0.0 * log_prior)


def metropolis(xp: ArrayAdapter, key: Any, log_ratio: Any) -> tuple[Any, Any]:
    """Accept flags and acceptance probabilities (N,); NaN ratios are rejected."""
    log_ratio = xp.where(log_ratio == log_ratio, log_ratio, -np.inf)
    accept = xp.log(xp.uniform(key, log_ratio.shape)) < log_ratio
    return accept, xp.exp(xp.clip(log_ratio, -np.inf, 0.0))


def init(log_parts: Callable[[Any], Any], position: Any) -> RWMState:
    log_prior, log_lik = log_parts(position)
    return RWMState(position, log_prior, log_lik)


def step(log_parts: Callable[[Any], Any], xp: ArrayAdapter, key: Any, state: RWMState,
         params: RWMParams) -> tuple[RWMState, MoveInfo]:
    """One Metropolis step of every particle at inverse temperature ``params.beta``."""
    k_move, k_accept = xp.split(key, 2)
    proposal = state.position + xp.normal(k_move, state.position.shape) @ params.chol.T
    log_prior, log_lik = log_parts(proposal)
    log_ratio = (tempered(xp, log_prior, log_lik, params.beta)
                 - tempered(xp, state.log_prior, state.log_lik, params.beta))
    accept, prob = metropolis(xp, k_accept, log_ratio)
    new = RWMState(xp.where(accept[:, None], proposal, state.position),
                   xp.where(accept, log_prior, state.log_prior),
                   xp.where(accept, log_lik, state.log_lik))
    return new, MoveInfo(prob)


def params_from_particles(xp: ArrayAdapter, position: np.ndarray, beta: float,
                          scale: float) -> RWMParams:
    """Proposal covariance scale^2 * 2.38^2 / D * Cov(particles) (Roberts & Rosenthal)."""
    dim = position.shape[1]
    cov = np.atleast_2d(np.cov(position, rowvar=False)) + 1e-10 * np.eye(dim)
    chol = np.linalg.cholesky(cov) * scale * 2.38 / np.sqrt(dim)
    return RWMParams(xp.asarray(beta), xp.asarray(chol))
