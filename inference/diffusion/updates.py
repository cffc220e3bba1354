"""The update every diffusion sampler shares: DDIM(eta) steps between grid times.

With u_t = alpha_t u_0 + sigma_t eps and a denoised estimate u0_hat, a step
from t to s < t is

    u_s = alpha_s u0_hat + sqrt(sigma_s^2 - std^2) eps_hat + std z,
    eps_hat = (u_t - alpha_t u0_hat) / sigma_t,
    std = eta * sigma_s * sqrt(1 - (lambda_s / lambda_t)^2),  lambda = sigma / alpha,

i.e. DDPM's ancestral step for eta = 1 and deterministic DDIM for eta = 0,
for VP and EDM (VE) processes alike (``models.samplers`` uses the same rule).

A point estimate u0_hat drops Var(u_0 | u_t): the true reverse transition
p(u_s | u_t) = E[q(u_s | u_t, u_0) | u_t] has kappa^2 Var(u_0 | u_t) more
variance, kappa = alpha_s - keep alpha_t / sigma_t the weight of u_0 in the
step's mean. Summed over a coarse grid the deficit is large (64 Karras steps
on exact Gaussian data: 15% of the variance; 100 steps on the mixture
benchmark: within-mode variance 0.85 instead of 1). A view that knows the
variance puts it in ``Transition.u0_var`` and stochastic steps add the
missing kappa^2 u0_var (eta^2 of it for DDIM(eta); moment matching, as
Analytic-DPM does, exact for Gaussian components); 0 is plain DDPM.
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np


class Transition(NamedTuple):
    """One move between two times of the grid (t > t_next when denoising)."""

    t: float
    t_next: float
    alpha: float
    sigma: float
    alpha_next: float
    sigma_next: float
    u0_var: float = 0.0  # per-coordinate Var(u_0 | u_t) the view knows (0: unknown)


def transition(view: Any, t: float, t_next: float) -> Transition:
    u0_var = getattr(view, "u0_variance", lambda t: 0.0)(float(t))
    return Transition(float(t), float(t_next), view.alpha(t), view.sigma(t),
                      view.alpha(t_next), view.sigma(t_next), float(u0_var))


def transitions(view: Any, num_steps: int) -> list[Transition]:
    """The denoising moves of ``view.times(num_steps)``, first to last."""
    times = view.times(num_steps)
    return [transition(view, a, b) for a, b in zip(times[:-1], times[1:])]


def positive_part(x: Any) -> Any:
    """max(x, 0) for floats and backend arrays alike (no branch, so it traces under jit)."""
    return (x + abs(x)) / 2


def _bridge_std(tr: Transition, eta: float) -> Any:
    """eta times the std of q(u_s | u_t, u_0) (0 at the last step, where sigma_next = 0)."""
    ratio = (tr.sigma_next * tr.alpha / (tr.alpha_next * tr.sigma)) ** 2
    return eta * tr.sigma_next * positive_part(1.0 - ratio) ** 0.5


def _keep(tr: Transition, eta: float) -> Any:
    """Weight of eps_hat in the step's mean."""
    return positive_part(tr.sigma_next**2 - _bridge_std(tr, eta) ** 2) ** 0.5


def ancestral_std(tr: Transition, eta: float) -> Any:
    """Std of the fresh noise of a DDIM(eta) step: the bridge's, plus eta kappa sqrt(u0_var).

    Branch-free, so ``tr`` may hold floats or 0-d arrays (traced steps).
    """
    kappa = tr.alpha_next - _keep(tr, eta) * tr.alpha / tr.sigma
    return (_bridge_std(tr, eta) ** 2 + eta**2 * kappa**2 * tr.u0_var) ** 0.5


def ddim_step(u_t: Any, u0_hat: Any, z: Any, tr: Transition, eta: float) -> Any:
    """u at ``tr.t_next`` from u_t (n, d), the denoised u0_hat (n, d) and normals z (n, d).

    ``tr`` may hold floats or 0-d arrays (traced steps).
    """
    eps_hat = (u_t - tr.alpha * u0_hat) / tr.sigma
    return tr.alpha_next * u0_hat + _keep(tr, eta) * eps_hat + ancestral_std(tr, eta) * z


def trusted(shift: Any, tr: Transition, radius: float, variance: Any, xp: Any) -> Any:
    """``shift`` (n, d) with each row's norm shrunk to at most radius * r_t sqrt(d).

    A guidance correction of the denoised estimate is a gradient step of size
    ~ r_t^2, r_t^2 = v lambda_t^2 / (v + lambda_t^2) the variance of u_0 given
    u_t under a N(0, v) prior (lambda = sigma / alpha, v = ``variance``, the
    prior's per-coordinate variance); on a sharp likelihood, or through an
    inexact network Jacobian at high noise, it overshoots and the overshoot
    grows geometrically over the steps. r_t sqrt(d) is the typical distance of
    u_0 from its estimate, so a longer correction leaves the Gaussian
    approximation the guidance rests on. Pass ``variance`` as a backend array
    made outside ``jit`` so that it is an argument of compiled programs, not
    a constant of them (see ``jit_shared``).
    """
    level2 = (tr.sigma / tr.alpha) ** 2
    limit = radius * (variance * level2 / (variance + level2) * shift.shape[1]) ** 0.5
    norm = xp.sqrt(xp.sum(shift**2, axis=1, keepdims=True))
    return shift / (1.0 + positive_part(norm / limit - 1.0))


def renoise(u_s: Any, z: Any, tr: Transition) -> Any:
    """Forward diffusion up from ``tr.t`` to ``tr.t_next > tr.t`` (RePaint's jumps): u_next | u_s."""
    ratio = tr.alpha_next / tr.alpha
    std = math.sqrt(max(tr.sigma_next**2 - (ratio * tr.sigma) ** 2, 0.0))
    return ratio * u_s + std * z


def initial_std(tr: Transition) -> float:
    """Std of u at the first time for unit-variance data (sqrt(alpha^2 + sigma^2))."""
    return float(np.hypot(tr.alpha, tr.sigma))
