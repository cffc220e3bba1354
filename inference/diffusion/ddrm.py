"""Denoising diffusion restoration models (DDRM; Kawar et al., 2022), registered as "ddrm".

DDRM works in the SVD basis of A (see :mod:`.spectral`) and in VE
coordinates x_t = u_t / alpha_t with noise level lambda_t = sigma_t / alpha_t.
Each observed coordinate c_i = (V^T x)_i has a noisy measurement ybar_i with
noise sigma_i = sigma_y / s_i; moving from lambda_t to lambda_s, with
c0 = V^T u0_hat:

* null space of A:     x0 + sqrt(1 - eta^2) lambda_s (x_t - x0) / lambda_t + eta lambda_s z,
* lambda_s <  sigma_i: c0 + sqrt(1 - eta^2) lambda_s (ybar - c0) / sigma_i + eta lambda_s z,
* lambda_s >= sigma_i: (1 - eta_b) c0 + eta_b ybar + sqrt(lambda_s^2 - eta_b^2 sigma_i^2) z.

The first draw takes ybar + sqrt(lambda_T^2 - sigma_i^2) z where it can. DDRM
is biased (no likelihood weighting, and the denoiser's mean stands in for
x0): with the paper's eta = 0.85 it under-disperses even where y says
nothing (-13% sd measured on unobserved coordinates of a Gaussian prior);
eta = 0 makes the null-space move a DDIM ODE step, exact as steps grow.
Linear-Gaussian observations with known noise only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ..registry import Capabilities, MethodSpec, register
from .config import SamplerConfig
from .driver import Kernel, run_kernel
from .spectral import Spectral, make_spectral
from .updates import positive_part


@dataclass(frozen=True)
class DDRMConfig(SamplerConfig):
    """DDRM settings (see :class:`SamplerConfig`); defaults are the paper's.

    Attributes:
        eta: stochasticity of the unobserved and weakly observed coordinates.
        eta_b: weight of the measurement where it is noisier than the diffusion.
    """

    eta: float = 0.85
    eta_b: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_unit("eta", "eta_b")


class DDRMContext(NamedTuple):
    problem: Any
    config: DDRMConfig
    obs: Spectral
    noise: np.ndarray      # (r,) sigma_y / s_i, numpy (for init, at float times)
    noise_array: Any       # the same as a backend array (for traced steps)


class DDRMState(NamedTuple):
    u: Any                 # (n, d) particles in diffusion space


def prepare(problem: Any, cfg: DDRMConfig) -> DDRMContext:
    obs, view = make_spectral(problem, "ddrm"), problem.view
    noise = obs.sigma / np.asarray(view.adapter.to_numpy(obs.s), dtype=np.float64)
    return DDRMContext(problem, cfg, obs, noise, view.adapter.asarray(noise))


def _split_normal(ctx: DDRMContext, key: Any, n: int) -> tuple[Any, Any]:
    """Standard normals (n, d) as observed coordinates (n, r) and null-space part (n, d)."""
    z = ctx.problem.view.adapter.normal(key, (n, ctx.problem.view.dim))
    return ctx.obs.coords(z), ctx.obs.null_part(z)


def init(key: Any, ctx: DDRMContext, first: Any) -> DDRMState:
    """DDRM's first draw where y is less noisy than x_T, the view's first draws elsewhere."""
    view, level = ctx.problem.view, first.sigma / first.alpha
    k_obs, k_prior = view.adapter.split(key, 2)
    z_c, _ = _split_normal(ctx, k_obs, ctx.config.draws)
    prior_u = view.initial(k_prior, ctx.config.draws, first)   # exact for a mixture
    near = view.adapter.asarray(np.where(level >= ctx.noise, 1.0, 0.0))
    observed = ctx.obs.ybar + view.adapter.asarray(np.sqrt(np.maximum(level**2 - ctx.noise**2, 0.0))) * z_c
    coords = near * observed + (1.0 - near) * ctx.obs.coords(prior_u) / first.alpha
    return DDRMState(first.alpha * ctx.obs.embed(coords) + ctx.obs.null_part(prior_u))


def _observed_coefficients(ctx: DDRMContext, level_next: Any) -> tuple[Any, ...]:
    """Per-coordinate (weight of c0, weight of ybar, noise std) (r,) for the move to lambda_s.

    ``level_next`` is a float or a 0-d array (traced steps).
    """
    xp, eta, eta_b, noise = ctx.problem.view.xp, ctx.config.eta, ctx.config.eta_b, ctx.noise_array
    ones = xp.ones_like(noise)
    below = level_next < noise                                  # diffusion less noisy than y
    gain = math.sqrt(1.0 - eta**2) * level_next / xp.where(below, noise, ones)
    w_y = xp.where(below, gain, eta_b * ones)
    std = xp.where(below, eta * level_next * ones,
                   positive_part(level_next**2 - (eta_b * noise) ** 2) ** 0.5)
    return 1.0 - w_y, w_y, std


def step(key: Any, ctx: DDRMContext, state: DDRMState, tr: Any) -> DDRMState:
    """One DDRM move from ``tr.t`` to ``tr.t_next`` (one denoiser call; traceable)."""
    obs, eta = ctx.obs, ctx.config.eta
    u0 = ctx.problem.view.denoise(state.u, tr.t)
    level, level_next = tr.sigma / tr.alpha, tr.sigma_next / tr.alpha_next
    z_c, z_null = _split_normal(ctx, key, state.u.shape[0])
    keep = math.sqrt(1.0 - eta**2) * level_next / level
    null = obs.null_part(u0 + keep * (state.u / tr.alpha - u0)) + eta * level_next * z_null
    w0, w_y, std = _observed_coefficients(ctx, level_next)
    coords = w0 * obs.coords(u0) + w_y * obs.ybar + std * z_c
    return DDRMState(tr.alpha_next * (null + obs.embed(coords)))


KERNEL = Kernel(prepare, init, step, evaluations=1)


def run_ddrm(program: Any, cfg: DDRMConfig) -> Any:
    """Runs DDRM; returns a Posterior of the diffusion-prior latent."""
    return run_kernel(program, "ddrm", KERNEL, cfg)


register(MethodSpec("ddrm", run_ddrm, DDRMConfig,
                    Capabilities(needs_diffusion_prior=True, needs_linear_gaussian=True,
                                 needs_gradients=False),
                    "denoising diffusion restoration in the operator's SVD basis "
                    "(fast, approximate, linear-Gaussian observations)"))
