"""Diffusion posterior sampling (DPS; Chung et al., 2023), registered as "dps".

At every step the denoiser's estimate x0_hat(u_t) is pushed through the
likelihood and the gradient of log p(y | x0_hat(u_t)) with respect to u_t
(through the denoiser) guides the DDPM step. Two step rules:

* ``"score"`` (any differentiable likelihood): DPS's approximation
  p(y | u_t) ~ p(y | x0_hat(u_t)) enters the posterior score with weight
  ``scale``; as a denoiser, u0 = x0_hat + scale * sigma_t^2 / alpha_t * grad.
* ``"chung"`` (linear-Gaussian observations): the paper's Algorithm 1,
  u_next = DDPM(u_t, x0_hat) - scale * grad ||y - A x0_hat(u_t)||, in
  diffusion space (the step size scale / ||residual|| makes it robust to the
  overconfident Gaussian approximation at high noise, which "score" is not).

``guidance="auto"`` (default) takes "chung" when the likelihood is one
linear-Gaussian observation with known noise, else "score".

Both are biased (the Gaussian approximation of p(x0 | u_t)); TDS and MCGdiff
correct that bias with particle weights.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from ppl.errors import MethodError

from ..registry import Capabilities, MethodSpec, register
from .config import SamplerConfig
from .driver import Kernel, run_kernel
from .spectral import make_spectral
from .updates import ddim_step, initial_std


@dataclass(frozen=True)
class DPSConfig(SamplerConfig):
    """DPS settings (see :class:`SamplerConfig` for the common ones).

    Attributes:
        guidance: "auto", "score" (any likelihood) or "chung" (linear-Gaussian only).
        scale: guidance weight (zeta; 1 is the DPS posterior-score approximation
            for "score", the paper's zeta' for "chung").
        eta: DDIM stochasticity (1: DDPM ancestral steps, as in the paper).
    """

    guidance: str = "auto"
    scale: float = 1.0
    eta: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.guidance not in (*GUIDANCE, "auto"):
            raise MethodError(f"guidance must be 'auto' or one of {sorted(GUIDANCE)}, "
                              f"got {self.guidance!r}")
        self.check_positive("scale")
        self.check_unit("eta")


class DPSContext(NamedTuple):
    problem: Any
    config: DPSConfig
    guide: Any      # (u_t, transition) -> (u0 for the DDIM step, additive correction)


class DPSState(NamedTuple):
    u: Any          # (n, d) particles in diffusion space


def _score_rule(problem: Any, cfg: DPSConfig) -> Any:
    view, adapter = problem.view, problem.view.adapter

    def guided(u: Any, t: Any, weight: Any) -> Any:
        def f(v: Any) -> tuple[Any, Any]:
            u0 = view.denoise(v, t)
            return problem.log_likelihood(u0), u0
        _, grad, u0 = adapter.value_and_grad(f)(u)
        return u0 + weight * grad

    compiled = view.jit(guided, evaluations=1)

    def guide(u: Any, tr: Any) -> tuple[Any, Any]:
        weight = cfg.scale * tr.sigma**2 / tr.alpha
        return compiled(u, adapter.asarray(tr.t), adapter.asarray(weight)), 0.0

    return guide


def _chung_rule(problem: Any, cfg: DPSConfig) -> Any:
    view, adapter, xp = problem.view, problem.view.adapter, problem.view.xp
    obs = make_spectral(problem, "dps with guidance='chung'")

    def corrected(u: Any, t: Any) -> tuple[Any, Any]:
        def f(v: Any) -> tuple[Any, Any]:
            u0 = view.denoise(v, t)
            return xp.sqrt(xp.sum((obs.y - obs.forward(u0)) ** 2, axis=1)), u0
        _, grad, u0 = adapter.value_and_grad(f)(u)
        return u0, -cfg.scale * grad

    compiled = view.jit(corrected, evaluations=1)
    return lambda u, tr: compiled(u, adapter.asarray(tr.t))


GUIDANCE = {"score": _score_rule, "chung": _chung_rule}


def guidance_of(problem: Any, cfg: DPSConfig) -> str:
    """The step rule ``cfg.guidance`` names, resolving "auto" from the problem."""
    if cfg.guidance != "auto":
        return cfg.guidance
    known_noise = problem.linear is not None and problem.noise_site is None
    return "chung" if known_noise else "score"


def prepare(problem: Any, cfg: DPSConfig) -> DPSContext:
    return DPSContext(problem, cfg, GUIDANCE[guidance_of(problem, cfg)](problem, cfg))


def init(key: Any, ctx: DPSContext, first: Any) -> DPSState:
    view = ctx.problem.view
    return DPSState(initial_std(first) * view.adapter.normal(key, (ctx.config.draws, view.dim)))


def step(key: Any, ctx: DPSContext, state: DPSState, tr: Any) -> DPSState:
    """One guided DDIM(eta) move from ``tr.t`` to ``tr.t_next``."""
    u0, correction = ctx.guide(state.u, tr)
    z = ctx.problem.view.adapter.normal(key, state.u.shape)
    return DPSState(ddim_step(state.u, u0, z, tr, ctx.config.eta) + correction)


KERNEL = Kernel(prepare, init, step)


def run_dps(program: Any, cfg: DPSConfig) -> Any:
    """Runs DPS; returns a Posterior of the diffusion-prior latent."""
    return run_kernel(program, "dps", KERNEL, cfg)


register(MethodSpec("dps", run_dps, DPSConfig,
                    Capabilities(needs_diffusion_prior=True),
                    "diffusion posterior sampling: likelihood gradients through the denoiser "
                    "(fast, approximate)"))
