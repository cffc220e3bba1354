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
from .updates import transitions


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

    ``init(key, n, first) -> (state, log_increment (n,))``;
    ``step(key, state, transition, final) -> (state, log_increment (n,))``;
    ``finish(key, state) -> state`` after the last step (e.g. blind sigma moves);
    ``log_scale``: subtracted from the log evidence (diffusion -> data space);
    ``noise``: the blind problem's NoisePrior, else None.
    """

    init: Callable[..., Any]
    step: Callable[..., Any]
    finish: Callable[..., Any]
    log_scale: float
    noise: Any


class SMCRun(NamedTuple):
    state: Any
    log_weights: Any      # (n,) normalised
    log_evidence: float   # diffusion space
    ess: np.ndarray       # (steps + 1,)


def _reweight(adapter: Any, log_w: Any, increment: Any, step: int) -> tuple[Any, float]:
    joint = log_w + increment
    total = adapter.logsumexp(joint)
    if not np.isfinite(float(adapter.to_numpy(total))):
        raise MethodError(f"every particle has weight zero (or NaN) at step {step}; the "
                          "observation may be impossible under the prior")
    return joint - total, float(adapter.to_numpy(total))


def _ess(adapter: Any, log_w: Any) -> float:
    return float(math.exp(-float(adapter.to_numpy(adapter.logsumexp(2 * log_w)))))


def _resample(adapter: Any, key: Any, state: Any, log_w: Any) -> tuple[Any, Any]:
    n = log_w.shape[0]
    idx = systematic(adapter, key, log_w)
    fields = [f if getattr(f, "ndim", 0) < 1 or f.shape[0] != n else adapter.take(f, idx)
              for f in state]
    return type(state)(*fields), adapter.xp.zeros_like(log_w) - math.log(n)


def run_particles(adapter: Any, kernel: SMCKernel, key: Any, moves: list, n: int,
                  cfg: SMCSamplerConfig, bar: Any) -> SMCRun:
    """One SMC run of n particles along ``moves`` (the denoising transitions)."""
    keys = adapter.split(key, 2 * len(moves) + 3)
    state, increment = kernel.init(keys[0], n, moves[0])
    log_w, log_z = _reweight(adapter, adapter.xp.zeros_like(increment) - math.log(n), increment, 0)
    ess = [_ess(adapter, log_w)]
    for i, move in enumerate(moves):
        if ess[-1] < cfg.ess_threshold * n:
            state, log_w = _resample(adapter, keys[2 * i + 1], state, log_w)
        state, increment = kernel.step(keys[2 * i + 2], state, move, i == len(moves) - 1)
        log_w, dz = _reweight(adapter, log_w, increment, i + 1)
        log_z, ess = log_z + dz, ess + [_ess(adapter, log_w)]
        bar.update(1)
    if cfg.resample_final:
        state, log_w = _resample(adapter, keys[-2], state, log_w)
    return SMCRun(kernel.finish(keys[-1], state), log_w, log_z, np.array(ess))


def run_smc_method(program: Any, name: str, make_kernel: Callable[[Any, Any], SMCKernel],
                   cfg: SMCSamplerConfig) -> Any:
    """Runs ``cfg.chains`` independent runs and wraps them as a Posterior with log evidence."""
    from tqdm.auto import tqdm

    problem = make_problem(program, cfg.dtype, cfg.device)
    kernel, adapter = make_kernel(problem, cfg), problem.view.adapter
    moves = transitions(problem.view, cfg.num_steps)
    keys = adapter.split(adapter.key(cfg.seed), cfg.chains)
    start = time.perf_counter()
    with tqdm(total=cfg.chains * len(moves), disable=not cfg.progress, desc=name) as bar:
        runs = [run_particles(adapter, kernel, k, moves, cfg.draws, cfg, bar) for k in keys]
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
