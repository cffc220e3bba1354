"""MCGdiff (Cardoso, Janati, Le Corff, Moulines, ICLR 2024), registered as "mcgdiff".

For y_u = A u + sigma_u eps with A = U diag(s) V^T, the coordinates z = V^T u
are observed through ybar_i = c_i / s_i = z_i + (sigma_u / s_i) eps_i, the
rest of u is not. Particles follow the prior's reverse (DDPM) chain; at each
time t the observed coordinates are pulled towards the diffused observation
alpha_t ybar by the potential

    g_t(u) = prod_i N(alpha_t ybar_i; z_i, sigma_t^2 + alpha_t^2 sigma_u^2 / s_i^2)   (x constants),

the likelihood of y given u_t when u_0 ~ u_t / alpha_t (flat prior). Its
variance is the paper's bridge variance sigma_t^2 while the diffusion noise
sigma_t / alpha_t exceeds the observation noise sigma_u / s_i, and turns into
the observation noise below that time, so the noisy case needs no separate
injection time and g_0 is the exact likelihood. Being Gaussian in z, the
optimal ("fully adapted") proposal is closed-form: the reverse kernel's
observed coordinates times g_{t-1}, the unobserved ones unchanged; the
weight is the Gaussian predictive of g_{t-1} divided by g_t. The particle
system targets p_model(u_0) p(y | u_0) exactly as particles -> infinity and
gives the evidence; no gradients of the denoiser are needed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from ppl.errors import MethodError

from ..registry import Capabilities, MethodSpec, register
from .blind import split_keys, LOG_2PI, initial_noise_var, mh_noise, noise_prior, svd_gaussian, svd_log_lik
from .particles import SMCKernel, SMCSamplerConfig, run_smc_method
from .updates import ancestral_std, ddim_step


@dataclass(frozen=True)
class MCGdiffConfig(SMCSamplerConfig):
    """MCGdiff settings (see :class:`~inference.diffusion.particles.SMCSamplerConfig`).

    ``ess_threshold`` defaults to 1 (resample before every step), not 0.5: the
    proposal is fully adapted, so a step's weight depends on the ancestor only
    and resampling by it at once keeps the particles where the next potential
    is large (an auxiliary particle filter). Measured on the mixture benchmark
    (d_x = 8, 100 steps, 64 populations of 2000, 20 problems): SW / floor at
    d_y = 4 went from 1.74 to 1.0-1.3, at d_y = 1 from 1.47 to 1.12.
    """

    ess_threshold: float = 1.0


class MCGdiffState(NamedTuple):
    u: Any          # (n, d) particles
    log_pot: Any    # (n,) log g_t(u)
    noise_var: Any  # (n, 1) or (1, 1) sigma_u^2


def mcgdiff_kernel(problem: Any, cfg: MCGdiffConfig) -> SMCKernel:
    """MCGdiff's init and step on a linear-Gaussian ``problem``."""
    if problem.linear is None:
        raise MethodError(f"mcgdiff needs y ~ Normal(A {problem.latent}, sigma) with A a linear "
                          "operator as the whole likelihood; use 'tds' for other likelihoods")
    view, adapter, xp = problem.view, problem.view.adapter, problem.view.xp
    lin = svd_gaussian(problem)
    prior = noise_prior(problem) if problem.noise_site else None
    rank = int(lin.s.shape[0])

    def potential(u: Any, alpha: float, sigma: float, nv: Any) -> Any:
        return svd_log_lik(xp, lin, (u @ lin.V) / alpha, (sigma / alpha) ** 2, nv)

    def propose(key: Any, mean: Any, std: float, alpha: float, sigma: float, nv: Any):
        """Draw from N(mean, std^2) g(.) / Z and return (u, log Z) for g at (alpha, sigma)."""
        k_free, k_obs = split_keys(adapter, key, 2)
        n = mean.shape[0]
        z_mean, target = mean @ lin.V, alpha * lin.c / lin.s
        omega = alpha**2 * nv / lin.s**2 + sigma**2                       # (n|1, r)
        total = std**2 + omega
        z = (omega * z_mean + std**2 * target) / total + xp.sqrt(std**2 * omega / total) * \
            adapter.normal(k_obs, (n, rank))
        u = mean + std * adapter.normal(k_free, (n, view.dim))
        u = u + (z - u @ lin.V) @ lin.V.T
        log_z = xp.sum(xp.log(alpha / lin.s) - 0.5 * ((target - z_mean) ** 2 / total
                                                       + xp.log(total) + LOG_2PI), axis=-1)
        rest = -0.5 * ((lin.m - rank) * (xp.log(nv[:, 0]) + LOG_2PI) + lin.ortho2 / nv[:, 0])
        return u, log_z + rest

    def init(key: Any, n: int, first: Any) -> tuple[MCGdiffState, Any]:
        k_u, k_noise = adapter.split(key, 2)
        nv = lin.noise_var if prior is None else initial_noise_var(adapter, prior, n, k_noise)
        # Exact draws of the first marginal (the view's), weighted by g there;
        # g is nearly flat so early, so no adapted proposal is needed.
        u = view.initial(k_u, n, first)
        log_pot = potential(u, first.alpha, first.sigma, nv)
        return MCGdiffState(u, log_pot, nv), log_pot

    def move_noise(key: Any, state: MCGdiffState, alpha: float, sigma: float, moves: int):
        lik = lambda nv: potential(state.u, alpha, sigma, nv)  # noqa: E731
        nv, log_pot, _ = mh_noise(adapter, key, state.noise_var, lik, prior, moves)
        return state._replace(noise_var=nv, log_pot=log_pot)

    def step(key: Any, state: MCGdiffState, tr: Any, final: bool) -> tuple[MCGdiffState, Any]:
        k_noise, k_prop = split_keys(adapter, key, 2)
        if prior is not None and cfg.noise_moves:
            state = move_noise(k_noise, state, tr.alpha, tr.sigma, cfg.noise_moves)
        mean = ddim_step(state.u, view.denoise(state.u, tr.t), 0.0, tr, 1.0)
        nv = state.noise_var
        u, log_z = propose(k_prop, mean, ancestral_std(tr, 1.0), tr.alpha_next, tr.sigma_next, nv)
        new = MCGdiffState(u, potential(u, tr.alpha_next, tr.sigma_next, nv), nv)
        return new, log_z - state.log_pot

    def finish(key: Any, state: MCGdiffState) -> MCGdiffState:
        if prior is None or not cfg.final_noise_moves:
            return state
        return move_noise(key, state, 1.0, 0.0, cfg.final_noise_moves)

    return SMCKernel(init, step, finish, lin.log_scale, prior, evaluations=(0, 1, 1))


def run_mcgdiff(program: Any, cfg: MCGdiffConfig) -> Any:
    """Runs ``cfg.chains`` independent MCGdiff runs of ``cfg.draws`` particles each."""
    return run_smc_method(program, "mcgdiff", mcgdiff_kernel, cfg)


register(MethodSpec("mcgdiff", run_mcgdiff, MCGdiffConfig,
                    Capabilities(needs_gradients=False, needs_diffusion_prior=True,
                                 needs_linear_gaussian=True),
                    "MCGdiff (SMC in the operator's SVD coordinates; linear-Gaussian "
                    "observations; log evidence)"))
