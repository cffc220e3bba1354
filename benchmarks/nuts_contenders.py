"""The contenders of the NUTS benchmark: one runner per (library, authoring style).

Every runner runs inside its own worker process (see ``benchmarks.nuts``),
imports its library lazily, and returns draws of the latent sites plus three
timings, all in seconds:

- ``total_s``: wall time from data arrays to numpy draws in a fresh process
  (library imported beforehand), including model building, ppl's trace and
  compile, JIT/C compilation and sampling.
- ``compile_s``: the part of it spent compiling: JAX's own trace/lower/XLA
  compile time (NumPyro), PyMC's time before ``sampling_time``, 0 for Pyro.
- ``sampling_s``: ``total_s`` minus compiling and minus ppl's trace+compile.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .nuts_problems import PROBLEMS, ProblemSize


@dataclass(frozen=True)
class RunSettings:
    """Sampler settings of one contender.

    Attributes:
        chains: number of chains.
        warmup: adaptation iterations per chain.
        draws: kept iterations per chain.
        seed: random seed of the sampler (the data do not depend on it).
        repeats: runs in the worker; the first is the cold one, the sampling
            time reported is the minimum over all of them.
    """

    chains: int
    warmup: int
    draws: int
    seed: int
    repeats: int = 1

    def label(self) -> str:
        return f"{self.chains}x({self.warmup}+{self.draws})"


@dataclass(frozen=True)
class Job:
    """What one worker process measures.

    Attributes:
        contender: key in :data:`CONTENDERS`.
        problem: key in :data:`~benchmarks.nuts_problems.PROBLEMS`.
        run: sampler settings.
        size: data sizes.
        pymc_cores: ``cores`` passed to ``pm.sample``.
    """

    contender: str
    problem: str
    run: RunSettings
    size: ProblemSize
    pymc_cores: int = 1


@dataclass(frozen=True)
class Outcome:
    """What a runner measured; draws are (chain, draw, *site_shape)."""

    samples: dict[str, np.ndarray]
    total_s: float
    compile_s: float
    sampling_s: float
    divergences: int | None
    dsl_s: float | None = None


@dataclass(frozen=True)
class Contender:
    """A registered contender.

    Attributes:
        name: registry key (CLI spelling).
        label: name in the report.
        settings: which settings apply: "main" or "pyro" (Pyro's smaller ones).
        chain_mode: how chains run, for the report.
        requires: distribution that must be installed, or None.
        prepare: imports the library and starts its runtime (not timed).
        run: ``run(job) -> Outcome``.
        warm: ``warm(scratch_dir)``, called after the cold run and before repeats.
    """

    name: str
    label: str
    settings: str
    chain_mode: str
    requires: str | None
    prepare: Callable[[], Any]
    run: Callable[[Job], Outcome]
    warm: Callable[[str], None] = lambda scratch: None


# -- preparing runtimes -----------------------------------------------------------------
def _prepare_jax() -> Any:
    import jax
    import numpyro  # noqa: F401 - imported here so the import is not timed

    from .common import JaxCompileClock

    jax.devices()  # starts the XLA CPU client, a one-off cost of any JAX program
    return JaxCompileClock()


def _prepare_torch() -> None:
    import pyro  # noqa: F401
    import torch

    torch.zeros(1).sum()


def _prepare_pymc() -> None:
    import pymc  # noqa: F401


def _warm_jax(scratch: str) -> None:
    """Turns on JAX's persistent compilation cache, after the cold run.

    NumPyro recompiles the sampler on every run (fresh closures), 10+ s here;
    from the third run on the executable comes from this cache, so repeats
    cost little. Compile time is subtracted either way.
    """
    import jax

    jax.config.update("jax_compilation_cache_dir", scratch)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


_CLOCK: dict[str, Any] = {}


def _jax_clock() -> Any:
    if "jax" not in _CLOCK:
        _CLOCK["jax"] = _prepare_jax()
    return _CLOCK["jax"]


def _latents(job: Job, draws: dict[str, Any]) -> dict[str, np.ndarray]:
    return {k: np.asarray(draws[k]) for k in PROBLEMS[job.problem].latents}


# -- ppl ----------------------------------------------------------------------------------
def _ppl_infer(job: Job, backend: str) -> tuple[Any, float, float]:
    import ppl

    problem = PROBLEMS[job.problem]
    data = problem.make_data(job.size)
    start = time.perf_counter()
    model = problem.ppl_model(data)  # traces the graph (observe validates at once)
    trace_s = time.perf_counter() - start
    post = ppl.infer(model, method="nuts", backend=backend, chains=job.run.chains,
                     warmup=job.run.warmup, draws=job.run.draws, seed=job.run.seed,
                     progress=False)
    total = time.perf_counter() - start
    return post, total, trace_s + post.timings["compile"]


def run_ppl_numpyro(job: Job) -> Outcome:
    with _jax_clock().measure() as clock:
        post, total, dsl = _ppl_infer(job, "numpyro")
    return Outcome(_latents(job, post.samples), total, clock.seconds,
                   total - clock.seconds - dsl, int(post.sample_stats["diverging"].sum()), dsl)


def run_ppl_pyro(job: Job) -> Outcome:
    post, total, dsl = _ppl_infer(job, "pyro")
    return Outcome(_latents(job, post.samples), total, 0.0, total - dsl,
                   int(post.sample_stats["diverging"].sum()), dsl)


# -- hand-written NumPyro ----------------------------------------------------------------
def run_numpyro(job: Job) -> Outcome:
    import jax
    from numpyro.infer import MCMC, NUTS

    from .handwritten.numpyro_models import model_and_args

    data = PROBLEMS[job.problem].make_data(job.size)
    with _jax_clock().measure() as clock:
        start = time.perf_counter()
        model, args = model_and_args(job.problem, data)
        # Same sampler settings as ppl's runner, which vectorizes chains.
        mcmc = MCMC(NUTS(model), num_warmup=job.run.warmup, num_samples=job.run.draws,
                    num_chains=job.run.chains, chain_method="vectorized", progress_bar=False)
        mcmc.run(jax.random.PRNGKey(job.run.seed), *args)
        draws = jax.device_get(mcmc.get_samples(group_by_chain=True))
        total = time.perf_counter() - start
    diverging = mcmc.get_extra_fields(group_by_chain=True)["diverging"]
    return Outcome(_latents(job, draws), total, clock.seconds, total - clock.seconds,
                   int(np.asarray(diverging).sum()))


# -- hand-written Pyro -------------------------------------------------------------------
def run_pyro(job: Job) -> Outcome:
    import pyro
    from pyro.infer.mcmc import MCMC, NUTS

    from .handwritten.pyro_models import model_and_args

    data = PROBLEMS[job.problem].make_data(job.size)
    start = time.perf_counter()
    model, args = model_and_args(job.problem, data)
    chains = []
    for chain in range(job.run.chains):
        # One chain at a time with seed + chain, exactly as ppl's Pyro runner does.
        pyro.set_rng_seed(job.run.seed + chain)
        mcmc = MCMC(NUTS(model), num_samples=job.run.draws, warmup_steps=job.run.warmup,
                    num_chains=1, disable_progbar=True)
        mcmc.run(*args)
        chains.append(mcmc)
    draws = {k: np.stack([m.get_samples()[k].numpy() for m in chains])
             for k in chains[0].get_samples()}
    total = time.perf_counter() - start
    divergences = sum(len(m.diagnostics()["divergences"]["chain 0"]) for m in chains)
    return Outcome(_latents(job, draws), total, 0.0, total, divergences)


# -- PyMC -----------------------------------------------------------------------------------
def run_pymc(job: Job) -> Outcome:
    import pymc as pm

    from .handwritten.pymc_models import MODELS

    data = PROBLEMS[job.problem].make_data(job.size)
    start = time.perf_counter()
    with MODELS[job.problem](data):
        idata = pm.sample(draws=job.run.draws, tune=job.run.warmup, chains=job.run.chains,
                          cores=job.pymc_cores, random_seed=job.run.seed, progressbar=False,
                          compute_convergence_checks=False)
    total = time.perf_counter() - start
    # PyMC times its sampling loop itself, after compiling the step functions.
    sampling = float(idata.posterior.attrs["sampling_time"])
    draws = {k: idata.posterior[k].values for k in PROBLEMS[job.problem].latents}
    return Outcome(_latents(job, draws), total, total - sampling, sampling,
                   int(idata.sample_stats["diverging"].values.sum()))


CONTENDERS: dict[str, Contender] = {c.name: c for c in [
    Contender("ppl-numpyro", "ppl → NumPyro", "main", "vectorized", None, _jax_clock,
              run_ppl_numpyro, _warm_jax),
    Contender("numpyro", "NumPyro (hand-written)", "main", "vectorized", None, _jax_clock,
              run_numpyro, _warm_jax),
    Contender("pymc", "PyMC (default NUTS)", "main", "sequential", "pymc", _prepare_pymc,
              run_pymc),
    Contender("ppl-pyro", "ppl → Pyro", "pyro", "sequential", None, _prepare_torch,
              run_ppl_pyro),
    Contender("pyro", "Pyro (hand-written)", "pyro", "sequential", None, _prepare_torch,
              run_pyro),
]}


# -- the DSL's own trace + compile ---------------------------------------------------------
PREPARE_BACKEND = {"numpyro": _prepare_jax, "pyro": _prepare_torch}


def time_trace_compile(problem_name: str, backend: str, size: ProblemSize,
                       repeats: int) -> dict[str, Any]:
    """Times building the model graph and ``ppl.compile`` (no JAX jit, no sampling).

    The first call runs in a fresh process with the backend library imported;
    the following ``repeats`` calls each use a fresh, untraced model.

    Returns:
        ``first_trace_ms``, ``first_compile_ms`` and the medians ``trace_ms``,
        ``compile_ms``, ``total_ms`` of the repeats.
    """
    import ppl

    PREPARE_BACKEND[backend]()
    problem = PROBLEMS[problem_name]
    data = problem.make_data(size)
    rows = [_trace_compile_once(ppl, problem, data, backend) for _ in range(repeats + 1)]
    trace, comp = np.array(rows[1:]).T * 1e3
    return {"first_trace_ms": rows[0][0] * 1e3, "first_compile_ms": rows[0][1] * 1e3,
            "trace_ms": float(np.median(trace)), "compile_ms": float(np.median(comp)),
            "total_ms": float(np.median(trace + comp)), "repeats": repeats}


def _trace_compile_once(ppl: Any, problem: Any, data: dict, backend: str) -> tuple[float, float]:
    start = time.perf_counter()
    model = problem.ppl_model(data)
    model.graph  # noqa: B018 - observe() already traced; this is a no-op guard
    traced = time.perf_counter()
    ppl.compile(model, backend=backend)
    return traced - start, time.perf_counter() - traced
