"""Hamiltonian Monte Carlo over a batch of particles, one independent chain each.

Pure ``init``/``step`` functions with a diagonal mass matrix set from the
particle variances (:func:`params_from_particles`).
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

from .adapter import ArrayAdapter
from .rwm import MoveInfo, metropolis, tempered


class HMCState(NamedTuple):
    """position (N, D); log_prior, log_lik (N,); their gradients (N, D)."""

    position: Any
    log_prior: Any
    log_lik: Any
    grad_prior: Any
    grad_lik: Any


class HMCParams(NamedTuple):
    """beta: inverse temperature; step_size: scalar; inv_mass: diagonal (D,)."""

    beta: Any
    step_size: Any
    inv_mass: Any


def init(log_parts_and_grads: Callable[[Any], Any], position: Any) -> HMCState:
    return HMCState(position, *log_parts_and_grads(position))


def _grad(xp: ArrayAdapter, state: HMCState, beta: Any) -> Any:
    finite = (state.grad_lik == state.grad_lik) & (beta > 0)
    return state.grad_prior + xp.where(finite, beta * state.grad_lik, 0.0 * state.grad_prior)


def _energy(xp: ArrayAdapter, state: HMCState, momentum: Any, params: HMCParams) -> Any:
    kinetic = 0.5 * (params.inv_mass * momentum * momentum).sum(-1)
    return kinetic - tempered(xp, state.log_prior, state.log_lik, params.beta)


def step(log_parts_and_grads: Callable[[Any], Any], num_leapfrog: int, xp: ArrayAdapter,
         key: Any, state: HMCState, params: HMCParams) -> tuple[HMCState, MoveInfo]:
    """One HMC transition (``num_leapfrog`` leapfrog steps) of every particle."""
    k_momentum, k_accept = xp.split(key, 2)
    momentum0 = xp.normal(k_momentum, state.position.shape) / params.inv_mass ** 0.5
    eps, new = params.step_size, state
    momentum = momentum0 + 0.5 * eps * _grad(xp, new, params.beta)
    for i in range(num_leapfrog):
        position = new.position + eps * params.inv_mass * momentum
        new = HMCState(position, *log_parts_and_grads(position))
        weight = 0.5 if i == num_leapfrog - 1 else 1.0
        momentum = momentum + weight * eps * _grad(xp, new, params.beta)
    log_ratio = _energy(xp, state, momentum0, params) - _energy(xp, new, momentum, params)
    accept, prob = metropolis(xp, k_accept, log_ratio)
    kept = HMCState(*(xp.where(accept[:, None] if a.ndim == 2 else accept, a, b)
                      for a, b in zip(new, state)))
    return kept, MoveInfo(prob)


def params_from_particles(xp: ArrayAdapter, position: np.ndarray, beta: float,
                          scale: float) -> HMCParams:
    """Inverse mass = particle variances; step size scale * D^(-1/4) (Beskos et al.)."""
    dim = position.shape[1]
    inv_mass = np.var(position, axis=0) + 1e-10
    return HMCParams(xp.asarray(beta), xp.asarray(scale * dim ** -0.25), xp.asarray(inv_mass))
