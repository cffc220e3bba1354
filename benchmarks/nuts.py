"""NUTS benchmark: ppl → NumPyro / Pyro against hand-written NumPyro, Pyro and PyMC.

Usage::

    PYTHONPATH=. python -m benchmarks.nuts                 # full run (~10-20 min, 2 cores)
    PYTHONPATH=. python -m benchmarks.nuts --quick         # smoke run (~2-3 min)
    PYTHONPATH=. python -m benchmarks.nuts --models logistic --only ppl-numpyro,numpyro

Every contender runs in a fresh worker process (``--worker``, internal), so
its cold-start time and peak memory are its own. The parent computes bulk
ESS with ArviZ and writes ``nuts.json`` and ``nuts.md`` under ``--out``.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib.util
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
from .nuts_contenders import CONTENDERS, Job, RunSettings
from .nuts_problems import PROBLEMS, ProblemSize

LIBRARIES = ("numpy", "jax", "jaxlib", "numpyro", "torch", "pyro-ppl", "pymc", "pytensor",
             "arviz", "networkx")
TRACE_COMPILE_BACKENDS = ("numpyro", "pyro")
# ppl contender -> its hand-written twin; same seed and model, so draws should match.
TWINS = {"ppl-numpyro": "numpyro", "ppl-pyro": "pyro"}


@dataclass(frozen=True)
class BenchSettings:
    """Everything one benchmark run depends on.

    Attributes:
        main: sampler settings of ppl → NumPyro, NumPyro and PyMC.
        pyro: smaller settings of ppl → Pyro and Pyro (sequential, slow).
        size: logistic-regression data sizes.
        problems: problems to run, in order.
        contenders: contenders to run, in order.
        pymc_cores: ``cores`` for ``pm.sample`` (1: chains in this process).
        compile_repeats: repeats of the DSL trace+compile timing.
        timeout_s: limit per worker process.
        quick: smoke-run sizes.
    """

    main: RunSettings
    pyro: RunSettings
    size: ProblemSize
    problems: tuple[str, ...]
    contenders: tuple[str, ...]
    pymc_cores: int = 1
    compile_repeats: int = 20
    timeout_s: float = 900.0
    quick: bool = False


# Full and quick defaults; any flag given on the command line wins.
DEFAULTS = {
    False: {"chains": 4, "warmup": 1000, "draws": 1000, "repeats": 5, "pyro_chains": 2,
            "pyro_warmup": 300, "pyro_draws": 300, "pyro_repeats": 1, "num_obs": 5000},
    True: {"chains": 2, "warmup": 200, "draws": 200, "repeats": 2, "pyro_chains": 2,
           "pyro_warmup": 100, "pyro_draws": 100, "pyro_repeats": 1, "num_obs": 500},
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--chains", type=int)
    p.add_argument("--warmup", type=int)
    p.add_argument("--draws", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, help="runs per contender; median sampling time")
    p.add_argument("--pyro-chains", type=int)
    p.add_argument("--pyro-warmup", type=int)
    p.add_argument("--pyro-draws", type=int)
    p.add_argument("--pyro-repeats", type=int)
    p.add_argument("--num-obs", type=int, help="logistic regression N")
    p.add_argument("--num-features", type=int, default=20, help="logistic regression D")
    common.add_selection_flags(p, PROBLEMS, CONTENDERS)
    p.add_argument("--pymc-cores", type=int, default=1)
    p.add_argument("--compile-repeats", type=int, default=20)
    return p.parse_args(argv)


def settings_from(args: argparse.Namespace) -> BenchSettings:
    """Resolves flags against the full or quick defaults; rejects unknown names."""
    d = common.resolved_defaults(args, DEFAULTS)
    problems = common.select_names(args.models, PROBLEMS)
    contenders = common.select_names(args.only, CONTENDERS)
    return BenchSettings(
        main=RunSettings(d["chains"], d["warmup"], d["draws"], args.seed, d["repeats"]),
        pyro=RunSettings(d["pyro_chains"], d["pyro_warmup"], d["pyro_draws"], args.seed,
                         d["pyro_repeats"]),
        size=ProblemSize(d["num_obs"], args.num_features), problems=problems,
        contenders=contenders, pymc_cores=args.pymc_cores,
        compile_repeats=args.compile_repeats, quick=args.quick)


# -- worker side --------------------------------------------------------------------------
def worker_main(payload: dict[str, Any]) -> None:
    """Runs one job in this (fresh) process and writes its result file."""
    if payload["kind"] == "trace_compile":
        from .nuts_contenders import time_trace_compile

        result = time_trace_compile(payload["problem"], payload["backend"],
                                    ProblemSize(**payload["size"]), payload["repeats"])
    else:
        result = _sample_job(payload)
    common.write_atomic(Path(payload["result_file"]), json.dumps(result))


def _sample_job(payload: dict[str, Any]) -> dict[str, Any]:
    job = _job_from(payload["job"])
    contender = CONTENDERS[job.contender]
    contender.prepare()
    rss_imported = common.peak_rss_mb()
    # CPU seconds are robust to other jobs on the machine, wall seconds are not.
    cpu_start = time.process_time()
    outcome = contender.run(job)
    cpu_s = time.process_time() - cpu_start
    peak = common.peak_rss_mb()  # of the cold run: repeats must not raise it
    np.savez(payload["samples_file"], **outcome.samples)
    contender.warm(payload["scratch_dir"])
    # Same seed, same draws: repeats only re-time sampling on a loaded machine.
    sampling = [outcome.sampling_s] + [contender.run(job).sampling_s
                                       for _ in range(job.run.repeats - 1)]
    # Other jobs on the machine only ever add time, so the minimum is the best estimate.
    return {"total_s": outcome.total_s, "cpu_total_s": cpu_s, "compile_s": outcome.compile_s,
            "sampling_s": min(sampling), "sampling_median_s": float(np.median(sampling)),
            "sampling_runs_s": sampling,
            "dsl_s": outcome.dsl_s, "divergences": outcome.divergences,
            "rss_imported_mb": rss_imported, "peak_rss_mb": peak,
            "children_peak_rss_mb": common.peak_children_rss_mb()}


def _job_from(d: dict[str, Any]) -> Job:
    return Job(d["contender"], d["problem"], RunSettings(**d["run"]), ProblemSize(**d["size"]),
               d["pymc_cores"])


# -- parent side ----------------------------------------------------------------------------
def min_bulk_ess(samples: dict[str, np.ndarray]) -> dict[str, Any]:
    """Smallest bulk ESS over every scalar component of the latents, and the largest R-hat.

    Args:
        samples: site name -> draws of shape (chain, draw, *site_shape).
    """
    import arviz as az

    dataset = az.convert_to_dataset(samples)
    ess, rhat = az.ess(dataset, method="bulk"), az.rhat(dataset, method="rank")
    worst = min(((float(v), _component(name, i, da.ndim)) for name, da in ess.data_vars.items()
                 for i, v in enumerate(np.ravel(da.values))), key=lambda t: t[0])
    max_rhat = max(float(np.nanmax(da.values)) for da in rhat.data_vars.values())
    return {"min_ess_bulk": worst[0], "slowest": worst[1], "max_rhat": max_rhat}


def _component(name: str, flat_index: int, ndim: int) -> str:
    return f"{name}[{flat_index}]" if ndim else name


def run_contender(job: Job, settings: BenchSettings, tmp: Path) -> dict[str, Any]:
    """Runs one contender on one problem in a worker process; adds ESS figures.

    The draws are kept under ``tmp`` for :func:`mark_twins`.
    """
    contender = CONTENDERS[job.contender]
    row = {"problem": job.problem, "contender": job.contender, "label": contender.label,
           "chain_mode": contender.chain_mode, "settings": dataclasses.asdict(job.run)}
    if contender.requires and importlib.util.find_spec(contender.requires) is None:
        return {**row, "error": f"{contender.requires} not installed"}
    stem = tmp / f"{job.problem}-{job.contender}"
    payload = {"kind": "sample", "job": dataclasses.asdict(job),
               "result_file": f"{stem}.json", "samples_file": f"{stem}.npz",
               "scratch_dir": f"{stem}-scratch"}
    result = common.run_worker("benchmarks.nuts", payload, settings.timeout_s)
    if "error" in result:
        return {**row, **result}
    with np.load(f"{stem}.npz") as f:
        ess = min_bulk_ess({k: f[k] for k in f.files})
    return {**row, **result, **ess,
            "ess_per_s_sampling": ess["min_ess_bulk"] / result["sampling_s"],
            "ess_per_s_total": ess["min_ess_bulk"] / result["total_s"]}


def mark_twins(rows: list[dict[str, Any]], tmp: Path) -> None:
    """Sets ``same_draws_as_twin`` on ppl rows: are the draws bit-identical to hand-written?

    Identical draws mean identical trajectories, so any ESS/s gap is pure overhead.
    """
    done = {r["contender"] for r in rows if "error" not in r}
    for row in rows:
        twin = TWINS.get(row["contender"])
        if row["contender"] in done and twin in done:
            row["same_draws_as_twin"] = _same_draws(tmp / f"{row['problem']}-{row['contender']}.npz",
                                                    tmp / f"{row['problem']}-{twin}.npz")


def _same_draws(a: Path, b: Path) -> bool:
    with np.load(a) as fa, np.load(b) as fb:
        return set(fa.files) == set(fb.files) and all(
            np.array_equal(fa[k], fb[k]) for k in fa.files)


def run_trace_compile(problem: str, backend: str, settings: BenchSettings,
                      tmp: Path) -> dict[str, Any]:
    """Times the DSL's own trace + ``ppl.compile`` in a fresh worker process."""
    payload = {"kind": "trace_compile", "problem": problem, "backend": backend,
               "size": dataclasses.asdict(settings.size), "repeats": settings.compile_repeats,
               "result_file": str(tmp / f"tc-{problem}-{backend}.json")}
    return {"problem": problem, "backend": backend,
            **common.run_worker("benchmarks.nuts", payload, settings.timeout_s)}


def run_all(settings: BenchSettings) -> dict[str, Any]:
    """Runs every (problem, contender) pair and the trace+compile timings."""
    rows, compile_rows = [], []
    with tempfile.TemporaryDirectory(prefix="ppl-bench-") as tmp:
        for problem in settings.problems:
            for name in settings.contenders:
                run = settings.pyro if CONTENDERS[name].settings == "pyro" else settings.main
                job = Job(name, problem, run, settings.size, settings.pymc_cores)
                rows.append(_logged(run_contender, job, settings, Path(tmp)))
            mark_twins([r for r in rows if r["problem"] == problem], Path(tmp))
            for backend in TRACE_COMPILE_BACKENDS:
                compile_rows.append(run_trace_compile(problem, backend, settings, Path(tmp)))
    return {"runs": rows, "trace_compile": compile_rows}


def _logged(fn: Any, job: Job, *args: Any) -> dict[str, Any]:
    start = time.perf_counter()
    row = fn(job, *args)
    what = row.get("error") or f"min ESS {row['min_ess_bulk']:.0f}, " \
        f"ESS/s {row['ess_per_s_sampling']:.1f} (sampling), {row['ess_per_s_total']:.1f} (total)"
    print(f"[{time.perf_counter() - start:6.1f} s] {job.problem:14s} {job.contender:12s} {what}",
          file=sys.stderr, flush=True)
    return row


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        worker_main(json.loads(args.worker))
        return
    from .nuts_report import build_report

    settings = settings_from(args)
    start, load_before = time.perf_counter(), os.getloadavg()
    results = run_all(settings)
    results["load_average"] = {"start": load_before, "end": os.getloadavg()}
    report = build_report(settings, results, wall_s=time.perf_counter() - start)
    common.write_results(args.out, "nuts", report["json"], report["markdown"])


if __name__ == "__main__":
    main()
