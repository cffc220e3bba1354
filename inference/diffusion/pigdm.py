"""Pseudo-inverse guided diffusion (ΠGDM; Song et al., 2023), registered as "pigdm".

ΠGDM approximates p(u_0 | u_t) by N(u0_hat(u_t), r_t^2 I), so that
p(y | u_t) ~ N(y; A u0_hat, r_t^2 A A^T + sigma_y^2 I), and guides with the
gradient of its log, computed as one vector-Jacobian product through the
denoiser:

    g = J^T A^T (r_t^2 A A^T + sigma_y^2 I)^{-1} (y - A u0_hat)
      = J^T V [s / (r_t^2 s^2 + sigma_y^2)] U^T (y - A u0_hat)     (A = U diag(s) V^T),

with r_t^2 = v lambda_t^2 / (v + lambda_t^2), lambda_t = sigma_t / alpha_t and
v the prior's per-coordinate variance (the posterior variance of a N(0, v I)
prior). The guided denoiser u0_hat + sigma_t^2 / alpha_t * scale * g feeds a
DDIM(eta) step. Linear-Gaussian observations with known noise only.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from ..registry import Capabilities, MethodSpec, register
from .config import SamplerConfig
from .driver import Kernel, run_kernel
from .spectral import Spectral, make_spectral
from .updates import ddim_step, initial_std


@dataclass(frozen=True)
class PiGDMConfig(SamplerConfig):
    """ΠGDM settings (see :class:`SamplerConfig` for the common ones).

    Attributes:
        scale: guidance weight (1: the ΠGDM approximation of the posterior score).
        eta: DDIM stochasticity (1: DDPM ancestral steps).
    """

    scale: float = 1.0
    eta: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_positive("scale")
        self.check_unit("eta")


class PiGDMContext(NamedTuple):
    problem: Any
    config: PiGDMConfig
    obs: Spectral
    guided: Any     # (u_t, t, r2, weight) -> guided u0_hat (n, d)


class PiGDMState(NamedTuple):
    u: Any          # (n, d) particles in diffusion space


def _guided_denoiser(problem: Any, obs: Spectral) -> Any:
    view, adapter = problem.view, problem.view.adapter

    def guided(u: Any, t: Any, r2: Any, weight: Any) -> Any:
        def f(v: Any) -> tuple[Any, Any]:
            u0 = view.denoise(v, t)
            resid = (obs.y - obs.forward(u0)) @ obs.U                      # (n, r)
            pulled = adapter.stop_gradient(obs.embed(resid * obs.s / (r2 * obs.s**2 + obs.sigma**2)))
            return view.xp.sum(u0 * pulled, axis=1), u0
        _, grad, u0 = adapter.value_and_grad(f)(u)
        return u0 + weight * grad

    return view.jit(guided, evaluations=1)


def prepare(problem: Any, cfg: PiGDMConfig) -> PiGDMContext:
    obs = make_spectral(problem, "pigdm")
    return PiGDMContext(problem, cfg, obs, _guided_denoiser(problem, obs))


def init(key: Any, ctx: PiGDMContext, first: Any) -> PiGDMState:
    view = ctx.problem.view
    return PiGDMState(initial_std(first) * view.adapter.normal(key, (ctx.config.draws, view.dim)))


def step(key: Any, ctx: PiGDMContext, state: PiGDMState, tr: Any) -> PiGDMState:
    """One guided DDIM(eta) move from ``tr.t`` to ``tr.t_next``."""
    adapter, v = ctx.problem.view.adapter, ctx.problem.view.data_variance
    level2 = (tr.sigma / tr.alpha) ** 2
    r2, weight = v * level2 / (v + level2), ctx.config.scale * tr.sigma**2 / tr.alpha
    u0 = ctx.guided(state.u, adapter.asarray(tr.t), adapter.asarray(r2), adapter.asarray(weight))
    z = adapter.normal(key, state.u.shape)
    return PiGDMState(ddim_step(state.u, u0, z, tr, ctx.config.eta))


KERNEL = Kernel(prepare, init, step)


def run_pigdm(program: Any, cfg: PiGDMConfig) -> Any:
    """Runs ΠGDM; returns a Posterior of the diffusion-prior latent."""
    return run_kernel(program, "pigdm", KERNEL, cfg)


register(MethodSpec("pigdm", run_pigdm, PiGDMConfig,
                    Capabilities(needs_diffusion_prior=True, needs_linear_gaussian=True),
                    "pseudo-inverse guided diffusion for linear-Gaussian observations "
                    "(fast, approximate)"))
