"""Hamiltonian Monte Carlo over batches of particles, one independent chain each.

Pure ``init``/``step`` functions on (C, N, D) positions with a diagonal mass
matrix per run set from its particle variances (:func:`params_from_particles`).
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

from .adapter import ArrayAdapter
from .batched import select
from .rwm import MoveInfo, metropolis, tempered


class HMCState(NamedTuple):
    """position (C, N, D); log_prior, log_lik (C, N); their gradients (C, N, D)."""

    position: Any
    log_prior: Any
    log_lik: Any
    grad_prior: Any
    grad_lik: Any


class HMCParams(NamedTuple):
    """beta: (C, 1) inverse temperatures; step_size: (C, 1, 1); inv_mass: diagonals (C, 1, D)."""

    beta: Any
    step_size: Any
    inv_mass: Any


def init(log_parts_and_grads: Callable[[Any], Any], position: Any) -> HMCState:
    return HMCState(position, *log_parts_and_grads(position))


def _grad(xp: ArrayAdapter, state: HMCState, beta: Any) -> Any:
    finite = (state.grad_lik == state.grad_lik) & (beta[..., None] > 0)
    return state.grad_prior + xp.where(finite, beta[..., None] * state.grad_lik,
                                       0.0 * state.grad_prior)


def _energy(xp: ArrayAdapter, state: HMCState, momentum: Any, params: HMCParams) -> Any:
    kinetic = 0.5 * xp.ns.sum(params.inv_mass * momentum * momentum, axis=-1)
    return kinetic - tempered(xp, state.log_prior, state.log_lik, params.beta)


def step(log_parts_and_grads: Callable[[Any], Any], num_leapfrog: int, xp: ArrayAdapter,
         normal: Any, uniform: Any, state: HMCState,
         params: HMCParams) -> tuple[HMCState, MoveInfo]:
    """One HMC transition (``num_leapfrog`` leapfrog steps) of every particle.

    Args:
        normal: (C, N, D) standard normals (the momentum); uniform: (C, N) on [0, 1).
    """
    momentum0 = normal / params.inv_mass ** 0.5
    eps = params.step_size

    def leapfrog(carry: tuple[HMCState, Any]) -> tuple[HMCState, Any]:
        new, momentum = carry
        position = new.position + eps * params.inv_mass * momentum
        new = HMCState(position, *log_parts_and_grads(position))
        return new, momentum + eps * _grad(xp, new, params.beta)

    # Full momentum steps throughout, then half of the last one taken back.
    new, momentum = xp.fori_loop(num_leapfrog, leapfrog,
                                 (state, momentum0 + 0.5 * eps * _grad(xp, state, params.beta)))
    momentum = momentum - 0.5 * eps * _grad(xp, new, params.beta)
    log_ratio = _energy(xp, state, momentum0, params) - _energy(xp, new, momentum, params)
    accept, prob = metropolis(xp, uniform, log_ratio)
    return select(xp.ns, accept, new, state), MoveInfo(prob)


def params_from_particles(xp: ArrayAdapter, position: Any, beta: Any, scale: Any) -> HMCParams:
    """Inverse mass = particle variances; step size scale * D^(-1/4) (Beskos et al.).

    Args:
        position: (C, N, D) equally weighted particles.
        beta, scale: (C,) inverse temperatures and step-size scales.
    """
    dim = position.shape[-1]
    inv_mass = xp.ns.var(position, axis=1) + 1e-10
    return HMCParams(beta[:, None], (scale * dim ** -0.25)[:, None, None], inv_mass[:, None, :])
