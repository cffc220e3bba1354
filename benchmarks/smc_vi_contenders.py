"""The contenders of the SMC / SVI benchmark: one runner per (library, method).

Every runner runs inside its own worker process (see ``benchmarks.smc_vi``),
imports its library lazily and times itself from data arrays to numpy
results, model building included (ppl's trace and compile, PyMC's graph
compilation, JAX's jit).

- SMC runners return the final particles and each independent run's log
  evidence; the parent combines runs the same way for every contender.
- SVI runners return the loss trace and, for JAX, the seconds JAX reports
  spending on compilation, so time per step can exclude it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .smc_vi_problems import PROBLEMS


@dataclass(frozen=True)
class SMCJob:
    """One SMC measurement: ``chains`` independent runs of ``particles`` particles."""

    contender: str
    problem: str
    particles: int
    chains: int
    seed: int
    repeats: int = 1


@dataclass(frozen=True)
class SVIJob:
    """One SVI measurement.

    Attributes:
        steps: optimisation steps of the reported run (final ELBO, total time).
        short_steps: steps of the shorter runs; time per step is the difference
            of net run times divided by ``steps - short_steps``, which cancels
            every fixed cost (model building, guide draws, diagnostics).
        learning_rate: Adam's constant learning rate.
        draws: guide draws taken after fitting.
        repeats: (short, long) pairs after the cold run; minimum times are used.
    """

    contender: str
    problem: str
    steps: int
    short_steps: int
    learning_rate: float
    draws: int
    seed: int
    repeats: int = 1


@dataclass(frozen=True)
class SMCOutcome:
    """Final particles (chain, particle, *shape), per-run log evidence, wall seconds."""

    samples: np.ndarray
    log_evidence_per_chain: np.ndarray
    wall_s: float
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SVIOutcome:
    """Loss trace (steps,), wall seconds and the part JAX spent compiling."""

    losses: np.ndarray
    wall_s: float
    compile_s: float = 0.0

    @property
    def net_s(self) -> float:
        return self.wall_s - self.compile_s


@dataclass(frozen=True)
class Contender:
    """A registered contender.

    Attributes:
        name: registry key (CLI spelling).
        label: name in the report.
        kind: "smc" or "svi".
        prepare: imports the library and starts its runtime (not timed).
        run: ``run(job) -> SMCOutcome`` or ``run(job, steps) -> SVIOutcome``.
        requires: distribution that must be installed, or None.
    """

    name: str
    label: str
    kind: str
    prepare: Callable[[], Any]
    run: Callable[..., Any]
    requires: str | None = None


# -- runtimes --------------------------------------------------------------------------------
_CLOCK: dict[str, Any] = {}


def _jax_clock() -> Any:
    """Imports JAX and NumPyro, starts XLA's CPU client and a compile clock (once)."""
    if "jax" not in _CLOCK:
        import jax
        import numpyro  # noqa: F401 - imported here so the import is not timed

        from .common import JaxCompileClock

        jax.devices()
        _CLOCK["jax"] = JaxCompileClock()
    return _CLOCK["jax"]


def _prepare_torch() -> None:
    import pyro  # noqa: F401
    import torch

    torch.zeros(1).sum()


def _prepare_pymc() -> None:
    import pymc  # noqa: F401


def _data(job: Any) -> dict[str, np.ndarray]:
    return PROBLEMS[job.problem].make_data()


# -- SMC ---------------------------------------------------------------------------------------
def _ppl_smc(job: SMCJob, backend: str) -> SMCOutcome:
    import ppl

    problem = PROBLEMS[job.problem]
    data = problem.make_data()
    start = time.perf_counter()
    post = ppl.infer(problem.ppl_model(data), method="smc", backend=backend,
                     particles=job.particles, chains=job.chains, seed=job.seed, progress=False)
    wall = time.perf_counter() - start
    steps = np.sum(np.isfinite(post.extras["temperatures"]), axis=1)
    return SMCOutcome(np.asarray(post[problem.latent]), post.extras["log_evidence_per_chain"],
                      wall, {"own_log_evidence": post.log_evidence,
                             "own_log_evidence_se": post.log_evidence_se,
                             "tempering_steps": steps.tolist(), "notes": post.notes})


def run_ppl_smc_numpyro(job: SMCJob) -> SMCOutcome:
    _jax_clock()
    return _ppl_smc(job, "numpyro")


def run_ppl_smc_pyro(job: SMCJob) -> SMCOutcome:
    return _ppl_smc(job, "pyro")


def _flatten(values: Any) -> list[float]:
    if isinstance(values, (list, tuple, np.ndarray)):
        return [v for item in values for v in _flatten(item)]
    return [float(values)]


def pymc_per_chain(values: Any, chains: int) -> list[list[float]]:
    """One flat list of per-stage values per chain, from a PyMC SMC sample stat.

    PyMC stores one value per tempering stage in a (chain, stage) object
    array; when chains take different numbers of stages the rows are ragged
    and ArviZ stores them as a (1, chain) array of lists instead.
    """
    rows = np.asarray(values, dtype=object)
    if rows.shape[0] != chains:
        rows = rows.reshape(-1)
    if rows.shape[0] != chains:
        raise ValueError(f"cannot split a PyMC stat of shape {np.shape(values)} into "
                         f"{chains} chains")
    return [_flatten(row) for row in rows]


def pymc_final_log_evidence(values: Any, chains: int) -> np.ndarray:
    """Each chain's log evidence: its last finite ``log_marginal_likelihood``.

    PyMC records NaN at every stage before beta reaches 1.
    """
    finals = [[v for v in row if np.isfinite(v)] for row in pymc_per_chain(values, chains)]
    return np.array([f[-1] if f else np.nan for f in finals])


def run_pymc_smc(job: SMCJob) -> SMCOutcome:
    import pymc as pm

    from .smc_vi_handwritten import pymc_model

    data, latent = _data(job), PROBLEMS[job.problem].latent
    start = time.perf_counter()
    with pymc_model(job.problem, data):
        # cores=1: chains one after another in this process, as ppl runs them.
        idata = pm.sample_smc(draws=job.particles, chains=job.chains, cores=1,
                              random_seed=job.seed, progressbar=False,
                              compute_convergence_checks=False)
    wall = time.perf_counter() - start
    stats = idata.sample_stats
    return SMCOutcome(idata.posterior[latent].values,
                      pymc_final_log_evidence(stats["log_marginal_likelihood"].values, job.chains),
                      wall, {"tempering_steps": [len(b) for b in pymc_per_chain(
                          stats["beta"].values, job.chains)]})


# -- SVI ----------------------------------------------------------------------------------------
def _ppl_svi(job: SVIJob, steps: int, backend: str) -> tuple[np.ndarray, float]:
    import ppl

    problem = PROBLEMS[job.problem]
    data = problem.make_data()
    start = time.perf_counter()
    # schedule="constant" and tol=0: plain Adam for exactly `steps` steps, like the others.
    post = ppl.infer(problem.ppl_model(data), method="svi", backend=backend, guide="normal",
                     steps=steps, learning_rate=job.learning_rate, schedule="constant", tol=0,
                     draws=job.draws, seed=job.seed, progress=False)
    return np.asarray(post.extras["loss"]), time.perf_counter() - start


def run_ppl_svi_numpyro(job: SVIJob, steps: int) -> SVIOutcome:
    with _jax_clock().measure() as clock:
        losses, wall = _ppl_svi(job, steps, "numpyro")
    return SVIOutcome(losses, wall, clock.seconds)


def run_ppl_svi_pyro(job: SVIJob, steps: int) -> SVIOutcome:
    losses, wall = _ppl_svi(job, steps, "pyro")
    return SVIOutcome(losses, wall)


def run_numpyro_svi(job: SVIJob, steps: int) -> SVIOutcome:
    import jax
    import optax
    from numpyro.infer import SVI, Trace_ELBO
    from numpyro.infer.autoguide import AutoNormal
    from numpyro.optim import optax_to_numpyro

    from .smc_vi_handwritten import numpyro_model_and_args

    data = _data(job)
    with _jax_clock().measure() as clock:
        start = time.perf_counter()
        model, args = numpyro_model_and_args(job.problem, data)
        guide = AutoNormal(model)
        svi = SVI(model, guide, optax_to_numpyro(optax.adam(job.learning_rate)), Trace_ELBO())
        result = svi.run(jax.random.PRNGKey(job.seed), steps, *args, progress_bar=False)
        draws = guide.sample_posterior(jax.random.PRNGKey(job.seed + 1), result.params,
                                       sample_shape=(job.draws,))
        jax.block_until_ready(draws)
        losses = np.asarray(result.losses)
        wall = time.perf_counter() - start
    return SVIOutcome(losses, wall, clock.seconds)


def run_pyro_svi(job: SVIJob, steps: int) -> SVIOutcome:
    import pyro
    import torch
    from pyro.infer import SVI, Predictive, Trace_ELBO
    from pyro.infer.autoguide import AutoNormal

    from .smc_vi_handwritten import pyro_model_and_args

    data = _data(job)
    start = time.perf_counter()
    pyro.clear_param_store()
    pyro.set_rng_seed(job.seed)
    model, args = pyro_model_and_args(job.problem, data)
    guide = AutoNormal(model)
    svi = SVI(model, guide, pyro.optim.Adam({"lr": job.learning_rate}), Trace_ELBO())
    losses = np.array([svi.step(*args) for _ in range(steps)])
    with torch.no_grad():  # guide draws, vectorized over a plate as ppl's are
        Predictive(guide, num_samples=job.draws, parallel=True)(*args)
    return SVIOutcome(losses, time.perf_counter() - start)


CONTENDERS: dict[str, Contender] = {c.name: c for c in [
    Contender("ppl-smc-numpyro", "ppl SMC → NumPyro", "smc", _jax_clock, run_ppl_smc_numpyro),
    Contender("ppl-smc-pyro", "ppl SMC → Pyro", "smc", _prepare_torch, run_ppl_smc_pyro),
    Contender("pymc-smc", "PyMC sample_smc", "smc", _prepare_pymc, run_pymc_smc, "pymc"),
    Contender("ppl-svi-numpyro", "ppl SVI → NumPyro", "svi", _jax_clock, run_ppl_svi_numpyro),
    Contender("numpyro-svi", "NumPyro SVI (hand-written)", "svi", _jax_clock, run_numpyro_svi),
    Contender("ppl-svi-pyro", "ppl SVI → Pyro", "svi", _prepare_torch, run_ppl_svi_pyro),
    Contender("pyro-svi", "Pyro SVI (hand-written)", "svi", _prepare_torch, run_pyro_svi),
]}
# Which contenders' SVI steps follow the (smaller) Pyro settings.
PYRO_SVI = ("ppl-svi-pyro", "pyro-svi")
