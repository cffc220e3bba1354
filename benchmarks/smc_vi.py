"""SMC and SVI benchmark: ppl against PyMC's sample_smc and hand-written NumPyro / Pyro SVI.

Usage::

    PYTHONPATH=. python -m benchmarks.smc_vi              # full run (~5-8 min, 2 cores)
    PYTHONPATH=. python -m benchmarks.smc_vi --quick      # smoke run (~2-3 min)
    PYTHONPATH=. python -m benchmarks.smc_vi --only ppl-smc-numpyro,pymc-smc

On conjugate models whose log evidence is closed form (normal–normal with
known variance, Bayesian linear regression with known noise):

- SMC: ppl (both backends) and ``pm.sample_smc`` with the same particles and
  independent runs: log-evidence error against the truth in Monte Carlo
  standard errors, wall time, bulk ESS per second, peak memory.
- SVI: ppl (both backends) and hand-written NumPyro and Pyro SVI with the same
  guide (AutoNormal), objective (Trace_ELBO), optimiser (Adam, constant
  learning rate) and steps: time per step, final ELBO, peak memory.

Every contender runs in a fresh worker process (``--worker``, internal), so
its memory and cold-start time are its own. Writes ``smc_vi.json`` and
``smc_vi.md`` under ``--out``.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import common
from .smc_vi_contenders import CONTENDERS, PYRO_SVI, SMCJob, SVIJob
from .smc_vi_problems import PROBLEMS

LIBRARIES = ("numpy", "jax", "jaxlib", "numpyro", "optax", "torch", "pyro-ppl", "pymc",
             "pytensor", "arviz")


@dataclass(frozen=True)
class BenchSettings:
    """Everything one benchmark run depends on.

    Attributes:
        particles: SMC particles per run, the same for every contender.
        smc_chains: independent SMC runs per measurement (their spread gives the se).
        smc_repeats: measurements per SMC worker; the first is the cold one.
        svi_steps, svi_short_steps: SVI steps of the long and short runs
            (NumPyro contenders); time per step comes from their difference.
        pyro_svi_steps, pyro_svi_short_steps: the same for the (slower) Pyro contenders.
        svi_repeats: (short, long) pairs after the cold long run.
        learning_rate: Adam's constant learning rate.
        svi_draws: guide draws after fitting.
        seed: random seed of every contender.
        problems, contenders: what runs, in order.
        timeout_s: limit per worker process.
        quick: smoke-run sizes.
    """

    particles: int
    smc_chains: int
    smc_repeats: int
    svi_steps: int
    svi_short_steps: int
    pyro_svi_steps: int
    pyro_svi_short_steps: int
    svi_repeats: int
    learning_rate: float
    svi_draws: int
    seed: int
    problems: tuple[str, ...]
    contenders: tuple[str, ...]
    timeout_s: float = 600.0
    quick: bool = False


# Full and quick defaults; any flag given on the command line wins.
DEFAULTS = {
    # 8 runs: the se of log Z comes from their spread, and with 4 runs a 3-se check
    # would fail ~6% of the time from the noise of the se alone (t with 3 dof).
    # A NumPyro step of these models takes a few microseconds: 180k steps between the
    # short and long runs make the difference ~1 s, well above timing noise.
    False: {"particles": 2000, "smc_chains": 8, "smc_repeats": 2, "svi_steps": 200_000,
            "svi_short_steps": 20_000, "pyro_svi_steps": 2000, "pyro_svi_short_steps": 200,
            "svi_repeats": 2},
    True: {"particles": 500, "smc_chains": 8, "smc_repeats": 1, "svi_steps": 20_000,
           "svi_short_steps": 2000, "pyro_svi_steps": 400, "pyro_svi_short_steps": 40,
           "svi_repeats": 1},
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for name in DEFAULTS[False]:
        p.add_argument("--" + name.replace("_", "-"), type=int)
    p.add_argument("--learning-rate", type=float, default=0.01)
    p.add_argument("--svi-draws", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    common.add_selection_flags(p, PROBLEMS, CONTENDERS)
    return p.parse_args(argv)


def settings_from(args: argparse.Namespace) -> BenchSettings:
    """Resolves flags against the full or quick defaults; rejects unknown names."""
    d = common.resolved_defaults(args, DEFAULTS)
    if d["svi_short_steps"] >= d["svi_steps"] or d["pyro_svi_short_steps"] >= d["pyro_svi_steps"]:
        raise SystemExit("short SVI runs must have fewer steps than the long ones")
    return BenchSettings(**d, learning_rate=args.learning_rate, svi_draws=args.svi_draws,
                         seed=args.seed, problems=common.select_names(args.models, PROBLEMS),
                         contenders=common.select_names(args.only, CONTENDERS), quick=args.quick)


def make_job(name: str, problem: str, s: BenchSettings) -> SMCJob | SVIJob:
    """The job of one contender on one problem under the settings."""
    if CONTENDERS[name].kind == "smc":
        return SMCJob(name, problem, s.particles, s.smc_chains, s.seed, s.smc_repeats)
    steps, short = ((s.pyro_svi_steps, s.pyro_svi_short_steps) if name in PYRO_SVI
                    else (s.svi_steps, s.svi_short_steps))
    return SVIJob(name, problem, steps, short, s.learning_rate, s.svi_draws, s.seed,
                  s.svi_repeats)


# -- worker side ---------------------------------------------------------------------------------
def worker_main(payload: dict[str, Any]) -> None:
    """Runs one job in this (fresh) process and writes its result file."""
    kind = CONTENDERS[payload["job"]["contender"]].kind
    job = (SMCJob if kind == "smc" else SVIJob)(**payload["job"])
    contender = CONTENDERS[job.contender]
    if "numpyro" in contender.name.split("-"):  # read when JAX starts its CPU backend
        os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    if "pyro" in contender.name.split("-"):
        # One intra-op thread, as PyMC's compiled graphs and JAX's small ops
        # effectively run: torch's default pool only adds hand-offs on these
        # tiny tensors and makes timings swing with the machine's load.
        import torch

        torch.set_num_threads(1)
    contender.prepare()
    rss_imported = common.peak_rss_mb()
    result = _smc_job(job, payload) if kind == "smc" else _svi_job(job)
    result.update(rss_imported_mb=rss_imported, peak_rss_mb=common.peak_rss_mb())
    common.write_atomic(Path(payload["result_file"]), json.dumps(result))


def _smc_job(job: SMCJob, payload: dict[str, Any]) -> dict[str, Any]:
    run = CONTENDERS[job.contender].run
    cold = run(job)
    np.save(payload["samples_file"], cold.samples)
    # Same seed: repeats re-time the same computation once libraries and caches are warm.
    warm = [run(job).wall_s for _ in range(job.repeats - 1)]
    return {"total_s": cold.wall_s, "warm_s": min(warm) if warm else None, "warm_runs_s": warm,
            "log_evidence_per_chain": np.asarray(cold.log_evidence_per_chain).tolist(),
            **cold.info}


def _svi_job(job: SVIJob) -> dict[str, Any]:
    run = CONTENDERS[job.contender].run
    cold = run(job, job.steps)
    longs, shorts = [cold.net_s], []
    for _ in range(job.repeats):
        shorts.append(run(job, job.short_steps).net_s)
        longs.append(run(job, job.steps).net_s)
    window = max(1, job.steps // 10)  # the loss is noisy: average the last 10% of steps
    return {"total_s": cold.wall_s, "compile_s": cold.compile_s,
            "time_per_step_s": (min(longs) - min(shorts)) / (job.steps - job.short_steps),
            "long_runs_net_s": longs, "short_runs_net_s": shorts,
            "final_elbo": -float(np.mean(cold.losses[-window:])),
            "final_elbo_sd": float(np.std(cold.losses[-window:])), "num_losses": len(cold.losses)}


# -- parent side ----------------------------------------------------------------------------------
def smc_figures(result: dict[str, Any], samples: np.ndarray, problem: str) -> dict[str, Any]:
    """Log evidence against the truth, bulk ESS per second and posterior-mean error."""
    from inference.smc.estimates import log_mean_exp

    from .nuts import min_bulk_ess

    truth, mean, sd = PROBLEMS[problem].exact(PROBLEMS[problem].make_data())
    log_z, se = log_mean_exp(np.array(result["log_evidence_per_chain"]))
    ess = min_bulk_ess({"x": samples})
    warm = result["warm_s"]
    draws = samples.reshape(-1, mean.size)  # (chain * particle, D)
    return {"log_evidence": log_z, "log_evidence_se": se, "log_evidence_true": truth,
            "log_evidence_error": log_z - truth, "error_in_se": abs(log_z - truth) / se,
            "min_ess_bulk": ess["min_ess_bulk"],
            "ess_per_s_cold": ess["min_ess_bulk"] / result["total_s"],
            "ess_per_s_warm": ess["min_ess_bulk"] / warm if warm else None,
            "max_mean_error_in_sd": float(np.max(np.abs(draws.mean(0) - mean) / sd))}


def svi_figures(result: dict[str, Any], problem: str) -> dict[str, Any]:
    truth = PROBLEMS[problem].exact(PROBLEMS[problem].make_data())[0]
    return {"log_evidence_true": truth, "elbo_gap": truth - result["final_elbo"]}


def run_contender(name: str, problem: str, settings: BenchSettings, tmp: Path) -> dict[str, Any]:
    """Runs one contender on one problem in a worker process and adds derived figures."""
    contender, job = CONTENDERS[name], make_job(name, problem, settings)
    row = {"problem": problem, "contender": name, "label": contender.label,
           "kind": contender.kind, "job": dataclasses.asdict(job)}
    if contender.requires and not common.library_versions([contender.requires])[
            contender.requires][0].isdigit():
        return {**row, "error": f"{contender.requires} is not installed"}
    stem = tmp / f"{problem}-{name}"
    payload = {"job": dataclasses.asdict(job), "result_file": f"{stem}.json",
               "samples_file": f"{stem}.npy"}
    result = common.run_worker("benchmarks.smc_vi", payload, settings.timeout_s)
    if "error" in result:
        return {**row, **result}
    extra = (smc_figures(result, np.load(f"{stem}.npy"), problem) if contender.kind == "smc"
             else svi_figures(result, problem))
    return {**row, **result, **extra}


def run_all(settings: BenchSettings) -> list[dict[str, Any]]:
    """Runs every (problem, contender) pair, one fresh worker each."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="ppl-smc-vi-") as tmp:
        for problem in settings.problems:
            for name in settings.contenders:
                start = time.perf_counter()
                row = run_contender(name, problem, settings, Path(tmp))
                print(f"[{time.perf_counter() - start:6.1f} s] {problem:14s} {name:16s} "
                      f"{_one_line(row)}", file=sys.stderr, flush=True)
                rows.append(row)
    return rows


def _one_line(row: dict[str, Any]) -> str:
    if "error" in row:
        return "ERROR " + row["error"]
    if row["kind"] == "smc":
        return (f"log Z err {row['log_evidence_error']:+.3f} ({row['error_in_se']:.1f} se), "
                f"wall {row['total_s']:.1f} s, min ESS {row['min_ess_bulk']:.0f}")
    return (f"{row['time_per_step_s'] * 1e6:.1f} us/step, ELBO {row['final_elbo']:.3f}, "
            f"total {row['total_s']:.1f} s")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        worker_main(json.loads(args.worker))
        return
    from .smc_vi_report import build_report

    settings = settings_from(args)
    start, load_before = time.perf_counter(), os.getloadavg()
    rows = run_all(settings)
    results = {"runs": rows, "load_average": {"start": load_before, "end": os.getloadavg()}}
    report = build_report(settings, results, wall_s=time.perf_counter() - start)
    common.write_results(args.out, "smc_vi", report["json"], report["markdown"])


if __name__ == "__main__":
    main()
