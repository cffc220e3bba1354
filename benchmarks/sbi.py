"""sbibm benchmark: ppl's NPE / NPSE against the sbi package's, scored by C2ST.

Usage::

    PYTHONPATH=. python -m benchmarks.sbi                 # full: 5 tasks x 10^3..10^5 (hours)
    PYTHONPATH=. python -m benchmarks.sbi --quick         # 10^3 simulations, two tasks
    PYTHONPATH=. python -m benchmarks.sbi --models two_moons --budgets 10000 --observations 10
    PYTHONPATH=. python -m benchmarks.sbi --c2st-engine sklearn   # sklearn's own MLP (slow in 10-d)
    PYTHONPATH=. python -m benchmarks.sbi --score-jobs 1   # C2ST in the background, next to training

For each task (``examples/sbibm_tasks.py``), simulation budget and
contender, one fresh worker process trains on the budget, draws posterior
samples at sbibm observations 1..k and scores them with C2ST against
sbibm's reference posterior samples (``ppl.check.c2st``: z-scored, MLP with
two layers of 10 x dim units, 5-fold cross-validation, sbibm's definition),
averaged over the k observations (sbibm averages 10). The classifier is
trained by ``--c2st-engine jax`` (default: sklearn's adam MLP re-expressed as
one compiled loop per fold, ``ppl.check.c2st_jax``; 2-3x less CPU) or
``sklearn``. Reported: C2ST,
training wall time (simulation and sampling excluded), peak memory (VmHWM of
the worker after training and sampling). Targets: sbibm's published NPE
C2ST at 10^4 simulations, and sbi's NPE in the same run. Writes ``sbi.json``
and ``sbi.md`` under ``--out``.

Filling the table over several sessions: every finished (task, budget,
contender) row is written at once to the cell store ``--cells`` (default
``benchmarks/results/sbi_cells/``, one JSON file per cell under a folder named
by the settings that determine the numbers: observations, draws, C2ST draws
and engine, seed and ``--revision``), with the machine's load average while it
ran. A later run with the same settings skips the cells already stored (and
says so on stderr) unless ``--rerun``; a cell that crashed or timed out is
stored as an error row and run again. The report is built from every stored
cell with the current settings and lists the cells still missing, so each
session simply repeats the same command until the list is empty::

    PYTHONPATH=. python -m benchmarks.sbi --plan   # missing cells and a rough time estimate
    PYTHONPATH=. python -m benchmarks.sbi --report # the report from the stored cells, running nothing
    PYTHONPATH=. timeout 2h python -m benchmarks.sbi   # runs what is missing; stop it any time
    PYTHONPATH=. python -m benchmarks.sbi --within 120 # only cells whose estimate ends in 2 h

Bump ``--revision`` (``sbi_cells.REVISION``) when a change to ppl or a
contender changes the numbers, so that old cells are not mixed in.
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

from . import common, sbi_cells
from .cells import LoadMonitor
from .sbi_cells import Cell, CellSettings, CellStore
from .sbi_contenders import CONTENDERS, DEFAULT_CONTENDERS, SBIJob, load_tasks, simulate_to_file

TASK_NAMES = ("two_moons", "gaussian_linear", "slcp", "bernoulli_glm", "gaussian_mixture")
LIBRARIES = ("numpy", "jax", "jaxlib", "optax", "torch", "pyro-ppl", "numpyro", "sbi",
             "scikit-learn")
DEFAULTS = {  # [quick] -> settings not given on the command line
    False: {"models": ",".join(TASK_NAMES), "budgets": "1000,10000,100000", "observations": 10,
            "draws": 10_000, "c2st_draws": 10_000},
    True: {"models": "two_moons,gaussian_linear", "budgets": "1000", "observations": 1,
           "draws": 2_000, "c2st_draws": 2_000},
}


@dataclass(frozen=True)
class BenchSettings:
    """Everything one run depends on.

    Attributes:
        tasks: sbibm tasks, in order.
        budgets: simulation budgets.
        contenders: contender names (``sbi_contenders.CONTENDERS``).
        observations: sbibm observations 1..k scored per run.
        draws: posterior draws per observation.
        c2st_draws: draws of each side C2ST compares (sbibm: 10 000).
        c2st_engine: ``"jax"`` or ``"sklearn"`` (``ppl.check.c2st``).
        score_jobs: processes scoring C2ST in the background (0: each worker scores its own draws).
        seed: seed of simulations, training and sampling.
        timeout_s: limit per worker process.
        quick: smoke-run sizes.
    """

    tasks: tuple[str, ...]
    budgets: tuple[int, ...]
    contenders: tuple[str, ...]
    observations: int
    draws: int
    c2st_draws: int
    c2st_engine: str = "jax"
    score_jobs: int = 0
    seed: int = 0
    timeout_s: float = 3600.0
    quick: bool = False


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    common.add_selection_flags(parser, dict.fromkeys(TASK_NAMES), CONTENDERS)
    parser.set_defaults(models=None, only=",".join(DEFAULT_CONTENDERS))
    parser.add_argument("--budgets", default=None, help="comma-separated simulation budgets")
    parser.add_argument("--observations", type=int, default=None, help="score observations 1..k")
    parser.add_argument("--draws", type=int, default=None, help="posterior draws per observation")
    parser.add_argument("--c2st-draws", dest="c2st_draws", type=int, default=None,
                        help="samples per side in C2ST (sbibm: 10000)")
    parser.add_argument("--c2st-engine", dest="c2st_engine", choices=("jax", "sklearn"), default="jax",
                        help="trainer of C2ST's classifier (the same MLP and algorithm)")
    parser.add_argument("--score-jobs", dest="score_jobs", type=int, default=0,
                        help="score C2ST in this many background processes while the next contender trains")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per worker")
    parser.add_argument("--cells", type=Path, default=sbi_cells.DEFAULT_DIR,
                        help="cell store: one JSON per finished (task, budget, contender)")
    parser.add_argument("--rerun", action="store_true", help="run cells already in the store again")
    parser.add_argument("--plan", action="store_true",
                        help="print the missing cells with a time estimate and exit")
    parser.add_argument("--within", type=float, default=None, metavar="MINUTES",
                        help="start a cell only when its --plan estimate ends within MINUTES of "
                             "the run's start (cells without an estimate are skipped): fills a "
                             "store in a fixed window without losing a half-run cell at its end")
    parser.add_argument("--report", action="store_true",
                        help="write sbi.json / sbi.md from the stored cells and exit (runs nothing)")
    parser.add_argument("--revision", default=sbi_cells.REVISION,
                        help="revision string of the cells (bump when the numbers change)")
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> BenchSettings:
    s = common.resolved_defaults(args, DEFAULTS)
    if not 1 <= s["observations"] <= 10:
        raise SystemExit("--observations must be 1..10")
    return BenchSettings(tasks=common.select_names(s["models"], dict.fromkeys(TASK_NAMES)),
                         budgets=tuple(int(b) for b in s["budgets"].split(",")),
                         contenders=common.select_names(args.only, CONTENDERS),
                         observations=s["observations"], draws=s["draws"],
                         c2st_draws=min(s["c2st_draws"], s["draws"]), c2st_engine=args.c2st_engine,
                         score_jobs=args.score_jobs, seed=args.seed,
                         timeout_s=args.timeout, quick=args.quick)


# -- worker side ---------------------------------------------------------------------------------
def worker_main(payload: dict[str, Any]) -> None:
    """Trains, samples, records peak memory, then scores (C2ST is not the contender's memory).

    With ``payload["draws_file"]`` the draws are saved there for the parent's scoring pool instead.
    """
    job = _job(payload["job"])
    outcome = CONTENDERS[job.contender].run(job)
    result = {"training_s": outcome.training_s, "sampling_s": outcome.sampling_s,
              "peak_rss_mb": common.peak_rss_mb(), **outcome.info}
    if payload.get("draws_file"):
        np.savez(payload["draws_file"], **{str(k): v for k, v in outcome.draws.items()})
    else:
        result.update(score_all(job, outcome.draws))
    common.write_atomic(Path(payload["result_file"]), json.dumps(result))


def _job(fields: dict[str, Any]) -> SBIJob:
    """The job a JSON round trip turned into a dict (its observations into a list)."""
    return SBIJob(**{**fields, "observations": tuple(fields["observations"])})


def score_all(job: SBIJob, draws: dict[int, np.ndarray]) -> dict[str, Any]:
    scores = {k: score(job, k, d) for k, d in draws.items()}
    return {"c2st_per_observation": scores, "c2st": float(np.mean(list(scores.values())))}


def score_file(job_fields: dict[str, Any], draws_file: str) -> dict[str, Any]:
    """``score_all`` on draws saved by a worker (runs in the parent's scoring pool)."""
    job = _job(job_fields)
    with np.load(draws_file) as saved:
        return score_all(job, {int(k): saved[k] for k in saved.files})


def score(job: SBIJob, observation: int, draws: np.ndarray) -> float:
    """C2ST of the draws against sbibm's reference samples of one observation."""
    from ppl.check import c2st, load_reference

    reference = load_reference(job.task, observation)[1][: job.c2st_draws]
    draws = np.asarray(draws, dtype=float)[: job.c2st_draws]
    if not np.all(np.isfinite(draws)):
        return 1.0  # non-finite draws are trivially told apart
    return c2st(reference, draws, seed=job.seed, engine=job.c2st_engine)


# -- parent side ----------------------------------------------------------------------------------
def selected_cells(settings: BenchSettings) -> list[Cell]:
    return [(t, b, c) for t in settings.tasks for b in settings.budgets for c in settings.contenders]


def table_cells(settings: BenchSettings, stored: Any = ()) -> list[Cell]:
    """The cells of the whole table (the full or quick defaults), the selection and ``stored``."""
    defaults = settings_from(parse_args(["--quick"] if settings.quick else []))
    cells = {*selected_cells(defaults), *selected_cells(settings), *stored}
    order = {name: i for i, name in enumerate([*TASK_NAMES, *CONTENDERS])}
    return sorted(cells, key=lambda c: (order.get(c[0], 99), c[1], order.get(c[2], 99), c))


def cells_to_run(settings: BenchSettings, done: dict[Cell, Any], rerun: bool = False) -> list[Cell]:
    """The selected cells, less those ``done`` (unless ``rerun``)."""
    return [c for c in selected_cells(settings) if rerun or c not in done]


def _say_skipped(cells: list[Cell], store: CellStore, done: dict[Cell, Any]) -> None:
    for cell in cells:
        print(f"skip {' '.join(map(str, cell))}: done in {store.path(cell)} "
              f"(C2ST {done[cell].get('c2st', float('nan')):.3f}; --rerun runs it again)", file=sys.stderr)


def fits(cell: Cell, done: dict[Cell, Any], deadline: float | None) -> bool:
    """Whether ``cell``'s estimated run (``sbi_report.estimate_s``) ends by ``deadline`` (epoch s)."""
    if deadline is None:
        return True
    from .sbi_report import estimate_s

    seconds = estimate_s(cell, done)
    return seconds is not None and time.time() + seconds <= deadline


def run_all(settings: BenchSettings, store: CellStore, rerun: bool = False,
            stamp: dict[str, Any] | None = None, deadline: float | None = None) -> list[dict[str, Any]]:
    """Every missing (task, budget, contender), one fresh worker each; sbi shares one simulation file.

    Each row goes to ``store`` as soon as it is finished (with ``stamp``, e.g. the git revision).
    With a ``deadline`` (epoch seconds), a cell starts only if its estimate ends by then.
    With ``settings.score_jobs`` > 0, workers only train and sample (one at a time, so
    training times stay comparable) while a pool of that many processes scores the
    saved draws of earlier workers in the background.
    """
    done = store.done()
    todo, rows, pending = cells_to_run(settings, done, rerun), [], []
    _say_skipped([c for c in selected_cells(settings) if c not in todo], store, done)
    pool = _scoring_pool(settings.score_jobs)
    with tempfile.TemporaryDirectory(prefix="ppl-sbi-") as tmp:
        for task, budget in dict.fromkeys((t, b) for t, b, _ in todo):
            names = [c for t, b, c in todo if (t, b) == (task, budget)]
            sims = Path(tmp) / f"{task}-{budget}.npz"
            if any(c.startswith("sbi") and fits((task, budget, c), done, deadline) for c in names):
                simulate_to_file(task, budget, settings.seed, sims)
            for name in names:
                if not fits((task, budget, name), done, deadline):
                    print(f"skip {task} {budget} {name}: its estimate does not end within --within",
                          file=sys.stderr, flush=True)
                    continue
                with LoadMonitor() as load:
                    row, job = run_one(name, task, budget, settings, Path(tmp), sims, pool is not None)
                rows.append(row)
                if pool is not None and "draws_file" in row:
                    pending.append((row, load, pool.submit(score_file, dataclasses.asdict(job),
                                                           row.pop("draws_file"))))
                else:
                    store.write(row, load, **(stamp or {}))
                pending = _store_scored(pending, store, stamp, wait=False)
        _store_scored(pending, store, stamp, wait=True)
    if pool is not None:
        pool.shutdown()
    return rows


def _store_scored(pending: list, store: CellStore, stamp: dict[str, Any] | None, wait: bool) -> list:
    """Stores the rows whose background scoring has finished (all, if ``wait``); returns the rest."""
    rest = []
    for row, load, future in pending:
        if not (wait or future.done()):
            rest.append((row, load, future))
            continue
        try:
            row.update(future.result())
        except Exception as exc:  # noqa: BLE001 - one cell's failure is its error row, not the run's end
            row["error"] = f"scoring failed: {type(exc).__name__}: {exc}"
        store.write(row, load, **(stamp or {}))
        _log(row)
    return rest


def _scoring_pool(jobs: int):
    if jobs < 1:
        return None
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn: the parent has initialised JAX (simulations), which must not be forked.
    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))


def run_one(name: str, task: str, budget: int, settings: BenchSettings, tmp: Path,
            sims: Path, defer_scoring: bool = False) -> tuple[dict[str, Any], SBIJob]:
    contender = CONTENDERS[name]
    job = SBIJob(name, task, budget, tuple(range(1, settings.observations + 1)), settings.draws,
                 settings.c2st_draws, settings.seed, str(sims), settings.c2st_engine)
    row = {"task": task, "simulations": budget, "contender": name, "label": contender.label,
           "method": contender.method}
    start = time.perf_counter()
    if contender.requires and common.library_versions([contender.requires])[
            contender.requires] == "not installed":
        result = {"error": f"{contender.requires} is not installed"}
    else:
        stem = tmp / f"{task}-{budget}-{name}"
        payload = {"job": dataclasses.asdict(job), "result_file": f"{stem}.json",
                   "draws_file": f"{stem}-draws.npz" if defer_scoring else ""}
        result = common.run_worker("benchmarks.sbi", payload, settings.timeout_s)
        if defer_scoring and "error" not in result:
            result["draws_file"] = payload["draws_file"]
    row.update(result, wall_s=time.perf_counter() - start)
    if "draws_file" not in row:
        _log(row)
    return row, job


def _log(row: dict[str, Any]) -> None:
    detail = ("ERROR " + row["error"]) if "error" in row else (
        f"C2ST {row['c2st']:.3f}, training {row['training_s']:.1f} s, peak {row['peak_rss_mb']:.0f} MiB")
    print(f"[{row['wall_s']:6.1f} s] {row['task']:16s} {row['simulations']:>7d} {row['contender']:13s} "
          f"{detail}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        worker_main(json.loads(args.worker))
        return
    settings = settings_from(args)
    store = CellStore(args.cells, CellSettings.of(settings, args.revision))
    if args.plan:
        from .sbi_report import plan_text

        done = store.done()
        print(plan_text(cells_to_run(settings, done, args.rerun), done))
        return
    start, load_before = time.perf_counter(), os.getloadavg()
    stamp = {"git_revision": common.git_revision(), "hardware": common.hardware()}
    if not args.report:
        deadline = None if args.within is None else time.time() + 60.0 * args.within
        run_all(settings, store, args.rerun, stamp, deadline)
    meta = {"load_average": {"start": load_before, "end": os.getloadavg()},
            "wall_s": time.perf_counter() - start, "hardware": stamp["hardware"],
            "versions": common.library_versions(LIBRARIES), "revision": stamp["git_revision"],
            "settings": dataclasses.asdict(settings), "cells": _shown(store.folder),
            "cell_settings": dataclasses.asdict(store.settings)}
    write_report(args.out, settings, store, meta)


def _shown(path: Path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(common.REPO_ROOT)) if path.is_relative_to(common.REPO_ROOT) else str(path)


def write_report(out: Path, settings: BenchSettings, store: CellStore, meta: dict[str, Any]) -> None:
    """``sbi.json`` / ``sbi.md`` of every stored row with these settings, and what is missing."""
    from .sbi_report import build_report

    stored = store.rows()
    table = table_cells(settings, stored)
    missing = [c for c in table if c not in stored or "error" in stored[c]]
    rows = [stored[c] for c in table if c in stored]
    meta["revisions"] = sorted({str(r.get("git_revision")) for r in rows})
    report = build_report(settings, rows, meta, load_tasks().TASKS, missing, len(table))
    common.write_results(out, "sbi", {**meta, "runs": rows, "missing": missing}, report)


if __name__ == "__main__":
    main()
