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
from .updates import ddim_step, trusted


@dataclass(frozen=True)
class PiGDMConfig(SamplerConfig):
    """ΠGDM settings (see :class:`SamplerConfig` for the common ones).

    Attributes:
        scale: guidance weight (1: the ΠGDM approximation of the posterior score).
        eta: DDIM stochasticity (1: DDPM ancestral steps).
        trust_radius: each draw's correction is shrunk to at most this many
            typical distances r_t sqrt(d) of u_0 from its estimate (see
            ``updates.trusted``; ``inf``: never). Through a learned denoiser's
            Jacobian at EDM's sigma = 80 the raw correction diverged.
    """

    scale: float = 1.0
    eta: float = 1.0
    trust_radius: float = 2.0

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_positive("scale", "trust_radius")
        self.check_unit("eta")


class PiGDMContext(NamedTuple):
    problem: Any
    config: PiGDMConfig
    obs: Spectral
    guided: Any     # (u_t, transition) -> guided u0_hat (n, d)


class PiGDMState(NamedTuple):
    u: Any          # (n, d) particles in diffusion space


def _guided_denoiser(problem: Any, obs: Spectral, cfg: PiGDMConfig) -> Any:
    """(u_t, transition) -> guided u0_hat; pure, traceable with the transition's fields as 0-d arrays."""
    view, adapter = problem.view, problem.view.adapter
    # Backend arrays, not floats: arguments of a compiled chain, shared by every problem.
    noise2, variance = adapter.asarray(obs.sigma**2), adapter.asarray(view.data_variance)

    def guided(u: Any, tr: Any) -> Any:
        level2 = (tr.sigma / tr.alpha) ** 2
        r2, weight = variance * level2 / (variance + level2), cfg.scale * tr.sigma**2 / tr.alpha

        def f(v: Any) -> tuple[Any, Any]:
            u0 = view.denoise(v, tr.t)
            resid = (obs.y - obs.forward(u0)) @ obs.U                      # (n, r)
            pulled = adapter.stop_gradient(obs.embed(resid * obs.s / (r2 * obs.s**2 + noise2)))
            return view.xp.sum(u0 * pulled, axis=1), u0
        _, grad, u0 = adapter.value_and_grad(f)(u)
        return u0 + trusted(weight * grad, tr, cfg.trust_radius, variance, view.xp)

    return guided


def prepare(problem: Any, cfg: PiGDMConfig) -> PiGDMContext:
    obs = make_spectral(problem, "pigdm")
    return PiGDMContext(problem, cfg, obs, _guided_denoiser(problem, obs, cfg))


def init(key: Any, ctx: PiGDMContext, first: Any) -> PiGDMState:
    # The view's own first draws: exact for a mixture on a grid that starts below t = 1.
    return PiGDMState(ctx.problem.view.initial(key, ctx.config.draws, first))


def step(key: Any, ctx: PiGDMContext, state: PiGDMState, tr: Any) -> PiGDMState:
    """One guided DDIM(eta) move from ``tr.t`` to ``tr.t_next`` (one denoiser call; traceable)."""
    u0 = ctx.guided(state.u, tr)
    z = ctx.problem.view.adapter.normal(key, state.u.shape)
    return PiGDMState(ddim_step(state.u, u0, z, tr, ctx.config.eta))


KERNEL = Kernel(prepare, init, step, evaluations=1)


def run_pigdm(program: Any, cfg: PiGDMConfig) -> Any:
    """Runs ΠGDM; returns a Posterior of the diffusion-prior latent."""
    return run_kernel(program, "pigdm", KERNEL, cfg)


register(MethodSpec("pigdm", run_pigdm, PiGDMConfig,
                    Capabilities(needs_diffusion_prior=True, needs_linear_gaussian=True),
                    "pseudo-inverse guided diffusion for linear-Gaussian observations "
                    "(fast, approximate)"))
