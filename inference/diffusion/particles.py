"""The particle driver the SMC diffusion samplers (TDS, MCGdiff) share.

A sampler supplies an :class:`SMCKernel`; the driver keeps normalised log
weights, resamples (systematic, ``inference.smc.resampling``) before a step
when the ESS falls below ``ess_threshold * n``, accumulates the log evidence
(the sum over steps of log sum_i W_i w_i for normalised weights W and
incremental weights w), records the ESS after every reweighting, and runs
independent chains whose evidence estimates give the standard error (as
``inference.smc`` does).

Every chain holds R independent populations of P particles side by side
(``populations``, ``particles``): the kernel sees their (R * P, ...) rows at
once, weights are (R, P), each population resamples on its own and hands
ceil(draws / R) picks to the chain, which draws its ``draws`` from all picks
weighted by their population's evidence (``_evidence_weighted_rows``). The
default is one population of ``draws`` particles.
Why more populations: the particles of one population share ancestors, and
on a multimodal posterior (the mixture benchmark at d_y = 1) the fraction of
them in each mode varies from run to run like that of a few dozen independent
draws, not ``draws`` of them; R populations divide that variance by R, and
populations of enough particles keep each one's bias small.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import numpy as np

from ppl.errors import MethodError, ParameterError

from ..smc.batched import logsumexp
from ..smc.estimates import log_evidence_of_runs, log_mean_exp
from ..smc.resampling import resample_each
from .blind import noise_sigma, split_keys
from .config import SamplerConfig
from .problem import make_problem
from .result import make_posterior
from .updates import Transition, transitions


def smc_samplers() -> tuple[str, ...]:
    """The registered SMC diffusion samplers: the methods whose config subclasses
    :class:`SMCSamplerConfig`, read from the registry so a new sampler needs no list edited.

    Called, not a constant: the samplers' modules import this one, so they
    register only after it has loaded.
    """
    import inference.diffusion  # noqa: F401 - registers every sampler

    from ..registry import METHODS

    return tuple(name for name, spec in METHODS.items() if issubclass(spec.config_cls, SMCSamplerConfig))


def parse_particles(text: str, methods: tuple[str, ...] | None = None) -> dict[str, int]:
    """Particles per SMC sampler from ``"tds=32,mcgdiff=128"``, or one number for all of ``methods``
    (default: every registered SMC sampler, :func:`smc_samplers`).

    Command lines take it this way because the samplers' costs differ: MCGdiff
    needs no denoiser gradient, so at a TDS run's cost it can afford about four
    times the particles.

    Raises:
        ParameterError: an item is not ``method=count``, a count is not a
            non-negative integer, or a method is not one of ``methods``.
    """
    methods = smc_samplers() if methods is None else methods
    items = [item.strip() for item in str(text).split(",") if item.strip()]
    if len(items) == 1 and "=" not in items[0]:
        items = [f"{m}={items[0]}" for m in methods]
    counts: dict[str, int] = {}
    for item in items:
        name, _, count = item.partition("=")
        name = name.strip()
        if name not in methods:
            raise ParameterError(f"particles: {name!r} is not an SMC sampler; choose from {list(methods)}")
        if not count.strip().isdigit():
            raise ParameterError(f"particles: {item!r} needs a non-negative integer count, "
                                 "e.g. 'tds=32,mcgdiff=128' or '64'")
        counts[name] = int(count)
    return counts


@dataclass(frozen=True)
class SMCSamplerConfig(SamplerConfig):
    """Settings of the SMC diffusion samplers; ``draws`` is the number of particles per chain.

    Attributes:
        ess_threshold: resample before a step when ESS < ess_threshold * P
            for a population of P particles (1 resamples every step, 0 never).
        resample_final: return equally weighted draws (resampled once at the
            end); False returns the weighted particles with their log weights
            (one population of ``draws`` particles only).
        populations: independent SMC populations R per chain, run batched; each
            hands ceil(draws / R) picks, resampled from its final weights, and the
            chain's draws are resampled from all picks by their population's
            evidence; the populations' evidences also give ``log_evidence_se``.
        particles: particles P per population; None: ``draws``. A chain costs
            R * P particles. R = ``draws``, P >= a few hundred gives independent
            draws (as in the MCGdiff paper's experiments); R = 1, P = ``draws``
            is the cheapest and the draws share ancestors.
        noise_moves: blind problems: MH moves on each particle's sigma per step.
        final_noise_moves: blind problems: MH moves on sigma after the last step.
    """

    ess_threshold: float = 0.5
    resample_final: bool = True
    noise_moves: int = 2
    final_noise_moves: int = 10
    populations: int = 1
    particles: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_unit("ess_threshold")
        if self.particles is not None and int(self.particles) < 1:
            raise MethodError(f"particles must be >= 1 or None, got {self.particles}")
        if not 1 <= int(self.populations) <= self.draws:
            raise MethodError(f"populations must lie in [1, draws = {self.draws}], got {self.populations}")
        if self.populations > 1 and not self.resample_final:
            raise MethodError("resample_final=False returns one weighted population; use populations=1")
        if self.noise_moves < 0 or self.final_noise_moves < 0:
            raise MethodError("noise_moves and final_noise_moves must be >= 0")

    @property
    def weighted(self) -> bool:
        """Whether the draws are one population's weighted particles."""
        return not self.resample_final and self.populations == 1 and self.particles in (None, self.draws)


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
    log_weights: Any      # (rows,) normalised within each population
    log_evidence: np.ndarray  # (R,) per population, diffusion space
    ess: np.ndarray       # (steps + 1,) mean over populations


class Carry(NamedTuple):
    """What one SMC step passes to the next (all backend arrays)."""

    state: Any
    log_w: Any     # (R, P) log weights, normalised per population
    log_z: Any     # (R,) log evidence so far
    ess: Any       # (steps + 1,) mean ESS after each reweighting, filled in as steps run


def _ess(adapter: Any, log_w: Any) -> Any:
    """ESS (R,) of normalised log weights (R, P)."""
    return adapter.ns.exp(-logsumexp(adapter.ns, 2 * log_w))


def _reweight(adapter: Any, log_w: Any, increment: Any) -> tuple[Any, Any]:
    """Normalised log weights (R, P) and log sum_i W_i w_i (R,) (non-finite when all weights are 0)."""
    joint = log_w + adapter.ns.reshape(increment, log_w.shape)
    total = logsumexp(adapter.ns, joint)
    return joint - total[:, None], total


def _is_rows(field: Any, rows: int) -> bool:
    """Whether a state field holds one row per particle (else it is a constant shared by all)."""
    return getattr(field, "ndim", 0) >= 1 and field.shape[0] == rows


def _take_rows(adapter: Any, state: Any, idx: Any, rows: int) -> Any:
    """Every (rows, ...) field of ``state`` at the flat row indices ``idx``; constants as they are."""
    return type(state)(*(adapter.take(f, idx) if _is_rows(f, rows) else f for f in state))


def _maybe_resample(adapter: Any, key: Any, state: Any, log_w: Any, threshold: float) -> tuple[Any, Any]:
    """Systematic resampling of each population whose ESS < threshold * P, branch-free (so it traces)."""
    ns, (r, p) = adapter.ns, log_w.shape
    do = (_ess(adapter, log_w) < threshold * p)[:, None]
    idx = resample_each(adapter, "systematic", adapter.uniform(key, (r, 1)), log_w)
    idx = ns.where(do, idx, adapter.arange(p)[None, :]) + p * adapter.arange(r)[:, None]
    state = _take_rows(adapter, state, ns.reshape(idx, (-1,)), r * p)
    return state, ns.where(do, ns.zeros_like(log_w) - math.log(p), log_w)


def _pick(adapter: Any, key: Any, state: Any, log_w: Any, k: int) -> Any:
    """k rows per population (R * k rows), resampled by its weights.

    Systematic resampling of P, then k of those P ancestors at evenly spaced
    columns from a random offset: each pick is still distributed as the weights.
    """
    ns, (r, p) = adapter.ns, log_w.shape
    k_res, k_col = split_keys(adapter, key, 2)
    idx = resample_each(adapter, "systematic", adapter.uniform(k_res, (r, 1)), log_w)   # (R, P)
    cols = ns.astype(ns.floor((adapter.uniform(k_col, (r, 1)) + adapter.arange(k)[None, :]) * p / k),
                     idx.dtype)
    idx = adapter.take_each(idx, ns.clip(cols, 0, p - 1)) + p * adapter.arange(r)[:, None]
    return _take_rows(adapter, state, ns.reshape(idx, (-1,)), r * p)


def _step_fn(adapter: Any, kernel: SMCKernel, cfg: SMCSamplerConfig, final: bool) -> Callable:
    """carry, (index, resample key, step key, transition) -> carry: resample, move, reweight."""
    xp = adapter.xp

    def step(carry: Carry, xs: tuple) -> Carry:
        i, k_res, k_step, tr = xs
        state, log_w = _maybe_resample(adapter, k_res, carry.state, carry.log_w, cfg.ess_threshold)
        state, increment = kernel.step(k_step, state, Transition(*tr), final)
        log_w, dz = _reweight(adapter, log_w, increment)
        ess = xp.where(xp.arange(carry.ess.shape[0]) == i + 1, xp.mean(_ess(adapter, log_w)), carry.ess)
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
                  shape: tuple[int, int], cfg: SMCSamplerConfig) -> SMCRun:
    """One SMC run of ``shape = (R, P)``: R independent populations of P particles along ``moves``.

    Returns the state's R * P rows, weighted (``cfg.weighted``), or R * k rows,
    k = ceil(draws / populations) resampled from each population.
    """
    xp, steps, (r, p) = adapter.xp, len(moves), shape
    k_init, k_res, k_step, k_final, k_finish = adapter.split(key, 5)
    state, increment = kernel.init(k_init, r * p, moves[0])
    log_w, log_z = _reweight(adapter, adapter.ns.zeros((r, p), dtype=increment.dtype) - math.log(p),
                             increment)
    ess = xp.zeros(steps + 1, dtype=log_w.dtype) + xp.mean(_ess(adapter, log_w))
    carry, trs = Carry(state, log_w, log_z, ess), _stacked(adapter, moves)
    keys = [adapter.split(k, steps) for k in (k_res, k_step)]
    if steps > 1:
        index = xp.arange(steps - 1) if adapter.name == "numpyro" else list(range(steps - 1))
        middle = Transition(*(f[:-1] for f in trs))
        carry = runner.middle(carry, (index, np.stack(keys[0][:-1]), np.stack(keys[1][:-1]), middle))
    last = Transition(*(f[-1] for f in trs))
    carry = runner.last(carry, (steps - 1, keys[0][-1], keys[1][-1], last))
    log_z = adapter.to_numpy(carry.log_z).astype(np.float64)
    if not np.all(np.isfinite(log_z)):
        raise MethodError("every particle got weight zero (or NaN) at some step; the "
                          "observation may be impossible under the prior")
    state, log_w = carry.state, carry.log_w
    if not cfg.weighted:
        k = -(-cfg.draws // cfg.populations)
        state, log_w = _pick(adapter, k_final, state, log_w, k), adapter.ns.zeros((r, k)) - math.log(r * k)
    return SMCRun(kernel.finish(k_finish, state), adapter.ns.reshape(log_w, (-1,)), log_z,
                  adapter.to_numpy(carry.ess))


# Numbers (particles times dimension) one batch of populations may hold. 2^23
# floats (32 MiB a copy) keeps a step's temporaries within a few hundred MiB for the
# mixture's matmul denoiser (``models.gmm``) and gradient-free MCGdiff; a learned
# UNet's activations per row are larger, but its samplers run far fewer particles.
MAX_BATCH_FLOATS = 2**23


def population_batches(cfg: SMCSamplerConfig, dim: int) -> tuple[int, int, int]:
    """(batches, populations per batch, particles per population) of one chain.

    Populations are batched up to ``MAX_BATCH_FLOATS`` numbers of u; every batch
    has the same shape (one compilation), the last one's surplus is dropped.
    """
    p = int(cfg.particles or cfg.draws)
    per_batch = max(1, min(cfg.populations, MAX_BATCH_FLOATS // (p * dim)))
    return -(-cfg.populations // per_batch), per_batch, p


def run_chain(adapter: Any, kernel: SMCKernel, runner: ChainRunner, key: Any, moves: list,
              cfg: SMCSamplerConfig, dim: int) -> SMCRun:
    """One chain: its batches of populations, joined, cut to ``cfg.draws`` rows."""
    batches, per_batch, p = population_batches(cfg, dim)
    *batch_keys, k_pick = adapter.split(key, batches + 1)
    runs = [run_particles(adapter, kernel, runner, k, moves, (per_batch, p), cfg) for k in batch_keys]
    rows, first = runs[0].log_weights.shape[0], runs[0].state
    if len(runs) == 1 and rows == cfg.draws and cfg.populations == 1:
        return runs[0]
    log_z = np.concatenate([r.log_evidence for r in runs])[:cfg.populations]
    per_population = rows // per_batch
    idx = _evidence_weighted_rows(adapter.to_numpy(adapter.uniform(k_pick, (1,))), log_z, per_population,
                                  cfg.draws)
    joined = type(first)(*(adapter.concat([r.state[i] for r in runs]) if _is_rows(f, rows) else f
                           for i, f in enumerate(first)))
    state = _take_rows(adapter, joined, adapter.asarray(idx), rows * len(runs))
    ess = np.mean([r.ess for r in runs], axis=0)
    return SMCRun(state, adapter.ns.zeros((cfg.draws,)) - math.log(cfg.draws), log_z, ess)


def _evidence_weighted_rows(uniform: np.ndarray, log_z: np.ndarray, per_population: int, draws: int) -> np.ndarray:
    """``draws`` row indices into the populations' picks (population-major), by systematic resampling.

    Independent populations combine into one particle system whose particles
    carry their population's evidence (an island particle filter): a pick of
    population r has weight Z_r / sum Z. Equal shares per population are biased
    at any number of particles when a population's evidence and its draws are
    correlated, as on the multimodal d_y = 1 mixture posteriors: a population
    that by chance ended in less likely modes has a smaller evidence, and equal
    shares over-represent it (MCGdiff put 0.77 instead of 0.82 on the heaviest
    mode, for 500 to 2000 particles per population alike).
    """
    weights = np.exp(log_z - log_z.max())
    row_weights = np.repeat(weights / weights.sum(), per_population) / per_population
    cdf = np.cumsum(row_weights)
    points = (float(np.reshape(uniform, -1)[0]) + np.arange(draws)) / draws
    return np.minimum(np.searchsorted(cdf, points * cdf[-1], side="right"), len(row_weights) - 1)


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
            runs.append(run_chain(adapter, kernel, runner, k, moves, cfg, view.dim))
            if adapter.name == "numpyro":  # traced calls are not counted by the view
                init, each, final = kernel.evaluations
                batches = population_batches(cfg, view.dim)[0]
                view.nfe = before + batches * (init + each * (len(moves) - 1) + final)
            bar.update(1)
    seconds = time.perf_counter() - start
    return _posterior(problem, name, cfg, kernel, runs, seconds)


def _posterior(problem: Any, name: str, cfg: SMCSamplerConfig, kernel: SMCKernel,
               runs: list[SMCRun], seconds: float) -> Any:
    adapter, xp = problem.view.adapter, problem.view.xp
    per_run = np.stack([r.log_evidence for r in runs]) - kernel.log_scale    # (chains, R)
    per_chain = np.array([log_mean_exp(z)[0] for z in per_run])
    # Independent populations (all chains' and, with `particles`, a chain's own) give the se.
    log_evidence, se = log_evidence_of_runs(per_run.reshape(-1))
    extra = None
    if kernel.noise is not None:
        extra = {kernel.noise.site: np.stack([adapter.to_numpy(
            noise_sigma(r.state.noise_var, kernel.noise, xp)) for r in runs])}
    weights = np.stack([adapter.to_numpy(r.log_weights) for r in runs]) if cfg.weighted else None
    post = make_posterior(problem, name, cfg, np.stack([adapter.to_numpy(r.state.u) for r in runs]),
                          log_weights=weights, ess=np.stack([r.ess for r in runs]),
                          log_evidence=log_evidence, log_evidence_se=se,
                          nfe=problem.view.nfe // cfg.chains, seconds=seconds, extra_samples=extra,
                          extras={"log_evidence_per_chain": per_chain})
    if per_run.size < 2:
        post.notes.append("log_evidence_se is NaN: it is estimated from independent runs, so "
                          "use chains >= 2 (or populations >= 2)")
    return post
