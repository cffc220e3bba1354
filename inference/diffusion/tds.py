"""Twisted Diffusion Sampler (Wu et al., NeurIPS 2023), registered as "tds".

Particles follow the prior's reverse (DDPM) chain p(u_s | u_t), twisted
towards y by p~_t(y | u_t) = the likelihood at the denoised u0_hat(u_t):

* proposal: N(mean_t + std^2 grad log p~_t(y | u_t), std^2), i.e. the
  reverse kernel's mean shifted along the twist's gradient (through the denoiser);
* weight: p(u_s | u_t) p~_s(y | u_s) / (proposal(u_s | u_t) p~_t(y | u_t));
* last step: the twist is replaced by the exact likelihood, so the particle
  system targets p_model(u_0) p(y | u_0) exactly as particles -> infinity,
  and the product of mean weights estimates the evidence p(y).

For a linear-Gaussian observation the twist is Gaussian with variance
inflation: V^T u0_hat has error variance ~ inflation * sigma_t^2 / (alpha_t^2
+ sigma_t^2) per coordinate (exact for unit-Gaussian data), see
:mod:`inference.diffusion.blind`; for any other likelihood it is
``problem.log_likelihood(u0_hat)``. A blind problem (sigma a latent site)
gets MH moves on each particle's sigma before every step.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ppl.errors import MethodError

from ..registry import Capabilities, MethodSpec, register
from .blind import split_keys, initial_noise_var, mh_noise, noise_prior, svd_gaussian, svd_log_lik
from .particles import SMCKernel, SMCSamplerConfig, run_smc_method
from .updates import ancestral_std, ddim_step


@dataclass(frozen=True)
class TDSConfig(SMCSamplerConfig):
    """TDS settings (see :class:`~inference.diffusion.particles.SMCSamplerConfig`).

    Attributes:
        inflation: factor on the twist's variance inflation (linear-Gaussian
            observations); 0 evaluates the likelihood at u0_hat as is.
    """

    inflation: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.inflation >= 0:
            raise MethodError(f"inflation must be >= 0, got {self.inflation}")


class TDSState(NamedTuple):
    """Particles at one time of the grid (n particles, dimension d)."""

    u: Any            # (n, d)
    u0_hat: Any       # (n, d) denoised E[u_0 | u]
    grad: Any         # (n, d) gradient of log_twist in u
    log_twist: Any    # (n,) log p~_t(y | u)
    noise_var: Any    # (n, 1) or (1, 1) sigma_u^2


def data_variance(view: Any) -> float:
    """Mean per-coordinate variance of u_0 under the prior (1 for normalised data)."""
    cov = getattr(getattr(view, "prior", None), "covariance", None)
    return float(np.mean(np.diag(cov()))) / view.scale**2 if callable(cov) else 1.0


def _spread2(cfg: TDSConfig, v0: float, alpha: float, sigma: float) -> float:
    """inflation * Var(u_0 | u_t) per coordinate for Gaussian u_0 of variance v0."""
    return cfg.inflation * v0 * sigma**2 / (alpha**2 * v0 + sigma**2)


def _potentials(problem: Any):
    """(twist(u0_hat, spread2, noise_var), exact log-likelihood(u, noise_var), log-Jacobian)."""
    xp = problem.view.xp
    if problem.linear is None:
        def generic(u: Any, spread2: float, noise_var: Any) -> Any:
            return problem.log_likelihood(u)

        return generic, (lambda u, noise_var: problem.log_likelihood(u)), 0.0, None
    lin = svd_gaussian(problem)

    def twist(u: Any, spread2: float, noise_var: Any) -> Any:
        return svd_log_lik(xp, lin, u @ lin.V, spread2, noise_var)

    return twist, (lambda u, noise_var: twist(u, 0.0, noise_var)), lin.log_scale, lin.noise_var


def tds_kernel(problem: Any, cfg: TDSConfig) -> SMCKernel:
    """TDS's init and step on ``problem`` (pure given the keys)."""
    view, adapter, xp = problem.view, problem.view.adapter, problem.view.xp
    twist, exact, log_scale, noise_var = _potentials(problem)
    prior = noise_prior(problem) if problem.noise_site else None
    v0 = data_variance(view)

    def twisted(u: Any, t: float, spread2: float, nv: Any) -> TDSState:
        def fn(v: Any) -> tuple[Any, Any]:
            u0_hat = view.denoise(v, t)
            return twist(u0_hat, spread2, nv), u0_hat

        log_twist, grad, u0_hat = adapter.value_and_grad(fn)(u)
        return TDSState(u, u0_hat, grad, log_twist, nv)

    def init(key: Any, n: int, first: Any) -> tuple[TDSState, Any]:
        k_u, k_noise = adapter.split(key, 2)
        nv = noise_var if prior is None else initial_noise_var(adapter, prior, n, k_noise)
        u = view.initial(k_u, n, first)
        state = twisted(u, first.t, _spread2(cfg, v0, first.alpha, first.sigma), nv)
        return state, state.log_twist

    def move_noise(key: Any, state: TDSState, spread2: float, moves: int) -> TDSState:
        lik = (lambda nv: exact(state.u, nv)) if spread2 is None else (
            lambda nv: twist(state.u0_hat, spread2, nv))
        nv, log_twist, _ = mh_noise(adapter, key, state.noise_var, lik, prior, moves)
        return state._replace(noise_var=nv, log_twist=log_twist)

    def step(key: Any, state: TDSState, tr: Any, final: bool) -> tuple[TDSState, Any]:
        k_noise, k_z = split_keys(adapter, key, 2)
        if prior is not None and cfg.noise_moves:
            state = move_noise(k_noise, state, _spread2(cfg, v0, tr.alpha, tr.sigma), cfg.noise_moves)
        std, g = ancestral_std(tr, 1.0), state.grad
        z = adapter.normal(k_z, tuple(state.u.shape))
        u = ddim_step(state.u, state.u0_hat, 0.0, tr, 1.0) + std**2 * g + std * z
        # log p(u | u_t) - log proposal(u | u_t), with u - proposal mean = std z.
        correction = -0.5 * std**2 * xp.sum(g**2, axis=-1) - std * xp.sum(g * z, axis=-1)
        if final:
            new = TDSState(u, u, 0.0 * u, exact(u, state.noise_var), state.noise_var)
        else:
            new = twisted(u, tr.t_next, _spread2(cfg, v0, tr.alpha_next, tr.sigma_next), state.noise_var)
        return new, new.log_twist - state.log_twist + correction

    def finish(key: Any, state: TDSState) -> TDSState:
        if prior is None or not cfg.final_noise_moves:
            return state
        return move_noise(key, state, None, cfg.final_noise_moves)

    return SMCKernel(init, step, finish, log_scale, prior, evaluations=(1, 1, 0))


def run_tds(program: Any, cfg: TDSConfig) -> Any:
    """Runs ``cfg.chains`` independent TDS runs of ``cfg.draws`` particles each."""
    return run_smc_method(program, "tds", tds_kernel, cfg)


register(MethodSpec("tds", run_tds, TDSConfig, Capabilities(needs_diffusion_prior=True),
                    "twisted diffusion sampler (SMC; any differentiable likelihood; log evidence)"))
