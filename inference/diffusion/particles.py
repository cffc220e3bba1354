"""The particle driver the SMC diffusion samplers (TDS, MCGdiff) share.

A sampler supplies an :class:`SMCKernel`; the driver keeps normalised log
weights, resamples (systematic, ``inference.smc.resampling``) before a step
when the ESS falls below ``ess_threshold * n``, accumulates the log evidence
(the sum over steps of log sum_i W_i w_i for normalised weights W and
incremental weights w), records the ESS after every reweighting, and runs
independent chains whose evidence estimates give the standard error (as
``inference.smc`` does).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import numpy as np

from ppl.errors import MethodError

from ..smc.estimates import log_mean_exp
from ..smc.resampling import systematic
from .blind import noise_sigma
from .config import SamplerConfig
from .problem import make_problem
from .result import make_posterior
from .updates import Transition, transitions


@dataclass(frozen=True)
class SMCSamplerConfig(SamplerConfig):
    """Settings of the SMC diffusion samplers; ``draws`` is the number of particles per chain.

    Attributes:
        ess_threshold: resample before a step when ESS < ess_threshold * draws
            (1 resamples every step, 0 never).
        resample_final: return equally weighted draws (resampled once at the
            end); False returns the weighted particles with their log weights.
        noise_moves: blind problems: MH moves on each particle's sigma per step.
        final_noise_moves: blind problems: MH moves on sigma after the last step.
    """

    ess_threshold: float = 0.5
    resample_final: bool = True
    noise_moves: int = 2
    final_noise_moves: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_unit("ess_threshold")
        if self.noise_moves < 0 or self.final_noise_moves < 0:
            raise MethodError("noise_moves and final_noise_moves must be >= 0")


class SMCKernel(NamedTuple):
    """A sampler's pure pieces; states are NamedTuples of (n, ...) arrays (or (1, ...) constants).

    ``init(key, n, first) -> (state, log_increment (n,))`` (runs eagerly);
    ``step(key, state, transition, final) -> (state, log_increment (n,))``,
    traceable: ``transition`` may hold 0-d arrays and ``final`` is static;
    ``finish(key, state) -> state`` after the last step (e.g. blind sigma moves);
    ``log_scale``: subtracted from the log evidence (diffusion -> data space);
    ``noise``: the blind problem's NoisePrior, else None;
    ``evaluations``: denoiser calls of (init, a step, the final step), which
    the driver adds to the view's NFE where the calls are traced (JAX).
    """

    init: Callable[..., Any]
    step: Callable[..., Any]
    finish: Callable[..., Any]
    log_scale: float
    noise: Any
    evaluations: tuple[int, int, int] = (0, 1, 1)


class SMCRun(NamedTuple):
    state: Any
    log_weights: Any      # (n,) normalised
    log_evidence: float   # diffusion space
    ess: np.ndarray       # (steps + 1,)


class Carry(NamedTuple):
    """What one SMC step passes to the next (all backend arrays)."""

    state: Any
    log_w: Any     # (n,) normalised log weights
    log_z: Any     # () log evidence so far
    ess: Any       # (steps + 1,) ESS after each reweighting, filled in as steps run


def _reweight(xp: Any, adapter: Any, log_w: Any, increment: Any) -> tuple[Any, Any]:
    """Normalised log weights and log sum_i W_i w_i (non-finite when every weight is 0)."""
    joint = log_w + increment
    total = adapter.logsumexp(joint)
    return joint - total, total


def _maybe_resample(adapter: Any, key: Any, state: Any, log_w: Any, threshold: float) -> tuple[Any, Any]:
    """Systematic resampling where ESS < threshold * n, branch-free (so it traces)."""
    xp, n = adapter.xp, log_w.shape[0]
    ess = xp.exp(-adapter.logsumexp(2 * log_w))
    do = ess < threshold * n
    idx = xp.where(do, systematic(adapter, key, log_w), xp.arange(n))
    fields = [f if getattr(f, "ndim", 0) < 1 or f.shape[0] != n else adapter.take(f, idx)
              for f in state]
    return type(state)(*fields), xp.where(do, xp.zeros_like(log_w) - math.log(n), log_w)


def _step_fn(adapter: Any, kernel: SMCKernel, cfg: SMCSamplerConfig, final: bool) -> Callable:
    """carry, (index, resample key, step key, transition) -> carry: resample, move, reweight."""
    xp = adapter.xp

    def step(carry: Carry, xs: tuple) -> Carry:
        i, k_res, k_step, tr = xs
        state, log_w = _maybe_resample(adapter, k_res, carry.state, carry.log_w, cfg.ess_threshold)
        state, increment = kernel.step(k_step, state, Transition(*tr), final)
        log_w, dz = _reweight(xp, adapter, log_w, increment)
        ess = xp.where(xp.arange(carry.ess.shape[0]) == i + 1,
                       xp.exp(-adapter.logsumexp(2 * log_w)), carry.ess)
        return Carry(state, log_w, carry.log_z + dz, ess)

    return step


def _scan(adapter: Any, body: Callable, carry: Any, xs: tuple) -> Any:
    """``body`` along the leading axis of every array in ``xs``: lax.scan on JAX, a loop on torch."""
    if adapter.name == "numpyro":
        import jax

        return jax.lax.scan(lambda c, x: (body(c, x), None), carry, xs)[0]
    for j in range(len(xs[0])):
        carry = body(carry, tuple(type(x)(*(f[j] for f in x)) if isinstance(x, tuple) else x[j]
                                  for x in xs))
    return carry


class ChainRunner(NamedTuple):
    """One chain's steps, compiled once (JAX) and shared by every chain of the run."""

    middle: Callable   # carry, xs -> carry over steps 1 .. S-1
    last: Callable     # carry, xs -> carry of the final step


def chain_runner(adapter: Any, kernel: SMCKernel, cfg: SMCSamplerConfig) -> ChainRunner:
    middle_step, last_step = (_step_fn(adapter, kernel, cfg, f) for f in (False, True))
    return ChainRunner(adapter.jit(lambda c, xs: _scan(adapter, middle_step, c, xs)),
                       adapter.jit(last_step))


def _stacked(adapter: Any, moves: list) -> Transition:
    """The transitions as (steps,) arrays (JAX: traced; torch: a list of floats per field)."""
    if adapter.name != "numpyro":
        return Transition(*(list(field) for field in zip(*moves)))
    return Transition(*(adapter.asarray(np.asarray(f, dtype=np.float64)) for f in zip(*moves)))


def run_particles(adapter: Any, kernel: SMCKernel, runner: ChainRunner, key: Any, moves: list,
                  n: int, cfg: SMCSamplerConfig) -> SMCRun:
    """One SMC run of n particles along ``moves`` (the denoising transitions)."""
    xp, steps = adapter.xp, len(moves)
    k_init, k_res, k_step, k_final, k_finish = adapter.split(key, 5)
    state, increment = kernel.init(k_init, n, moves[0])
    log_w, log_z = _reweight(xp, adapter, xp.zeros_like(increment) - math.log(n), increment)
    ess = xp.zeros(steps + 1, dtype=log_w.dtype) + xp.exp(-adapter.logsumexp(2 * log_w))
    carry, trs = Carry(state, log_w, log_z, ess), _stacked(adapter, moves)
    keys = [adapter.split(k, steps) for k in (k_res, k_step)]
    if steps > 1:
        index = xp.arange(steps - 1) if adapter.name == "numpyro" else list(range(steps - 1))
        middle = Transition(*(f[:-1] for f in trs))
        carry = runner.middle(carry, (index, np.stack(keys[0][:-1]), np.stack(keys[1][:-1]), middle))
    last = Transition(*(f[-1] for f in trs))
    carry = runner.last(carry, (steps - 1, keys[0][-1], keys[1][-1], last))
    log_z = float(adapter.to_numpy(carry.log_z))
    if not np.isfinite(log_z):
        raise MethodError("every particle got weight zero (or NaN) at some step; the "
                          "observation may be impossible under the prior")
    state, log_w = carry.state, carry.log_w
    if cfg.resample_final:
        state, log_w = _maybe_resample(adapter, k_final, state, log_w, 2.0)  # always
    return SMCRun(kernel.finish(k_finish, state), log_w, log_z, adapter.to_numpy(carry.ess))


def run_smc_method(program: Any, name: str, make_kernel: Callable[[Any, Any], SMCKernel],
                   cfg: SMCSamplerConfig) -> Any:
    """Runs ``cfg.chains`` independent runs and wraps them as a Posterior with log evidence."""
    from tqdm.auto import tqdm

    problem = make_problem(program, cfg.dtype, cfg.device)
    kernel, adapter, view = make_kernel(problem, cfg), problem.view.adapter, problem.view
    moves = transitions(view, cfg.num_steps)
    runner = chain_runner(adapter, kernel, cfg)
    keys = adapter.split(adapter.key(cfg.seed), cfg.chains)
    start, runs = time.perf_counter(), []
    with tqdm(total=cfg.chains, disable=not cfg.progress, desc=name) as bar:
        for k in keys:
            before = view.nfe
            runs.append(run_particles(adapter, kernel, runner, k, moves, cfg.draws, cfg))
            if adapter.name == "numpyro":  # traced calls are not counted by the view
                init, each, final = kernel.evaluations
                view.nfe = before + init + each * (len(moves) - 1) + final
            bar.update(1)
    seconds = time.perf_counter() - start
    return _posterior(problem, name, cfg, kernel, runs, seconds)


def _posterior(problem: Any, name: str, cfg: SMCSamplerConfig, kernel: SMCKernel,
               runs: list[SMCRun], seconds: float) -> Any:
    adapter, xp = problem.view.adapter, problem.view.xp
    per_chain = np.array([r.log_evidence for r in runs]) - kernel.log_scale
    log_evidence, se = log_mean_exp(per_chain)
    extra = None
    if kernel.noise is not None:
        extra = {kernel.noise.site: np.stack([adapter.to_numpy(
            noise_sigma(r.state.noise_var, kernel.noise, xp)) for r in runs])}
    weights = None if cfg.resample_final else np.stack([adapter.to_numpy(r.log_weights) for r in runs])
    post = make_posterior(problem, name, cfg, np.stack([adapter.to_numpy(r.state.u) for r in runs]),
                          log_weights=weights, ess=np.stack([r.ess for r in runs]),
                          log_evidence=log_evidence, log_evidence_se=se,
                          nfe=problem.view.nfe // cfg.chains, seconds=seconds, extra_samples=extra,
                          extras={"log_evidence_per_chain": per_chain})
    if cfg.chains < 2:
        post.notes.append("log_evidence_se is NaN: it is estimated from independent runs, so "
                          "use chains >= 2")
    return post
