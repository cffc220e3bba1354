"""RePaint (Lugmayr et al., 2022): inpainting by replacement, registered as "repaint".

Each denoising step draws the unobserved part from the prior's DDPM step and
replaces the observed part by the observation diffused to the next time,
alpha_next * ybar + sigma_next * z. For a mask the observed part is the
observed pixels; for any linear operator it is the range of A^T, i.e. the
coordinates V^T u of the SVD A = U diag(s) V^T with ybar = U^T y / s
(:mod:`.spectral`). Resampling jumps harmonise the two parts: after every
``jump_length`` steps the particles are diffused back up ``jump_length``
steps, ``resamplings - 1`` times. Observation noise is not modelled (as in
the paper), so RePaint is biased when sigma_y is not small.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from ..registry import Capabilities, MethodSpec, register
from .config import SamplerConfig
from .driver import Kernel, run_kernel
from .spectral import Spectral, make_spectral
from .updates import Transition, ddim_step, renoise, transition


@dataclass(frozen=True)
class RePaintConfig(SamplerConfig):
    """RePaint settings (see :class:`SamplerConfig`).

    Attributes:
        jump_length: j, steps between jumps and steps diffused back up per jump.
        resamplings: r, times each stretch of j steps is traversed (1: no jumps).
    """

    jump_length: int = 10
    resamplings: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_positive("jump_length", "resamplings")


class RePaintContext(NamedTuple):
    problem: Any
    config: RePaintConfig
    obs: Spectral
    denoise: Any           # (u_t, t) -> u0_hat, compiled


class RePaintState(NamedTuple):
    u: Any                 # (n, d) particles in diffusion space


def jump_schedule(view: Any, cfg: RePaintConfig) -> list[Transition]:
    """Down and up moves (up: ``t_next > t``) of RePaint's schedule on ``view.times``.

    Steps-to-go k counts down from num_steps; at every k that is a multiple of
    j (below num_steps - j) the walk climbs back j single steps, r - 1 times.
    """
    times, steps, j = view.times(cfg.num_steps), cfg.num_steps, cfg.jump_length
    jumps = {k: cfg.resamplings - 1 for k in range(0, steps - j, j)}
    moves, k = [], steps
    while k >= 1:
        moves.append(transition(view, times[steps - k], times[steps - k + 1]))
        k -= 1
        if jumps.get(k, 0) > 0:
            jumps[k] -= 1
            for _ in range(j):
                moves.append(transition(view, times[steps - k], times[steps - k - 1]))
                k += 1
    return moves


def prepare(problem: Any, cfg: RePaintConfig) -> RePaintContext:
    view = problem.view
    return RePaintContext(problem, cfg, make_spectral(problem, "repaint"),
                          view.jit(view.denoise, evaluations=1))


def init(key: Any, ctx: RePaintContext, first: Transition) -> RePaintState:
    # The view's own first draws: exact for a mixture on a grid that starts below t = 1.
    return RePaintState(ctx.problem.view.initial(key, ctx.config.draws, first))


def step(key: Any, ctx: RePaintContext, state: RePaintState, tr: Transition) -> RePaintState:
    """A denoising move with replacement, or (``tr.t_next > tr.t``) a jump back up."""
    adapter, obs = ctx.problem.view.adapter, ctx.obs
    z = adapter.normal(key, state.u.shape)
    if tr.t_next > tr.t:
        return RePaintState(renoise(state.u, z, tr))
    u0 = ctx.denoise(state.u, adapter.asarray(tr.t))
    # The null-space and range parts of z are independent, so one draw serves both.
    unknown = obs.null_part(ddim_step(state.u, u0, z, tr, eta=1.0))
    known = tr.alpha_next * obs.ybar + tr.sigma_next * obs.coords(z)
    return RePaintState(unknown + obs.embed(known))


KERNEL = Kernel(prepare, init, step, jump_schedule)


def run_repaint(program: Any, cfg: RePaintConfig) -> Any:
    """Runs RePaint; returns a Posterior of the diffusion-prior latent."""
    return run_kernel(program, "repaint", KERNEL, cfg)


register(MethodSpec("repaint", run_repaint, RePaintConfig,
                    Capabilities(needs_diffusion_prior=True, needs_linear_gaussian=True,
                                 needs_gradients=False),
                    "RePaint replacement with resampling jumps (inpainting; fast, approximate)"))
