"""sbibm benchmark: ppl's NPE / NPSE against the sbi package's, scored by C2ST.

Usage::

    PYTHONPATH=. python -m benchmarks.sbi                 # full: 5 tasks x 10^3..10^5 (hours)
    PYTHONPATH=. python -m benchmarks.sbi --quick         # 10^3 simulations, two tasks
    PYTHONPATH=. python -m benchmarks.sbi --models two_moons --budgets 10000 --observations 10

For each task (``examples/sbibm_tasks.py``), simulation budget and
contender, one fresh worker process trains on the budget, draws posterior
samples at sbibm observations 1..k and scores them with C2ST against
sbibm's reference posterior samples (``ppl.check.c2st``: z-scored, MLP with
two layers of 10 x dim units, 5-fold cross-validation, sbibm's definition),
averaged over the k observations (sbibm averages 10). Reported: C2ST,
training wall time (simulation and sampling excluded), peak memory (VmHWM of
the worker after training and sampling). Targets: sbibm's published NPE
C2ST at 10^4 simulations, and sbi's NPE in the same run. Writes ``sbi.json``
and ``sbi.md`` under ``--out``.
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
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per worker")
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> BenchSettings:
    s = common.resolved_defaults(args, DEFAULTS)
    if not 1 <= s["observations"] <= 10:
        raise SystemExit("--observations must be 1..10")
    return BenchSettings(tasks=common.select_names(s["models"], dict.fromkeys(TASK_NAMES)),
                         budgets=tuple(int(b) for b in s["budgets"].split(",")),
                         contenders=common.select_names(args.only, CONTENDERS),
                         observations=s["observations"], draws=s["draws"],
                         c2st_draws=min(s["c2st_draws"], s["draws"]), seed=args.seed,
                         timeout_s=args.timeout, quick=args.quick)


# -- worker side ---------------------------------------------------------------------------------
def worker_main(payload: dict[str, Any]) -> None:
    """Trains, samples, records peak memory, then scores (C2ST is not the contender's memory)."""
    job = SBIJob(**{**payload["job"], "observations": tuple(payload["job"]["observations"])})
    outcome = CONTENDERS[job.contender].run(job)
    peak = common.peak_rss_mb()
    scores = {k: score(job, k, draws) for k, draws in outcome.draws.items()}
    result = {"training_s": outcome.training_s, "sampling_s": outcome.sampling_s,
              "peak_rss_mb": peak, "c2st_per_observation": scores,
              "c2st": float(np.mean(list(scores.values()))), **outcome.info}
    common.write_atomic(Path(payload["result_file"]), json.dumps(result))


def score(job: SBIJob, observation: int, draws: np.ndarray) -> float:
    """C2ST of the draws against sbibm's reference samples of one observation."""
    from ppl.check import c2st, load_reference

    reference = load_reference(job.task, observation)[1][: job.c2st_draws]
    draws = np.asarray(draws, dtype=float)[: job.c2st_draws]
    if not np.all(np.isfinite(draws)):
        return 1.0  # non-finite draws are trivially told apart
    return c2st(reference, draws, seed=job.seed)


# -- parent side ----------------------------------------------------------------------------------
def run_all(settings: BenchSettings) -> list[dict[str, Any]]:
    """Every (task, budget, contender), one fresh worker each; sbi shares one simulation file."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="ppl-sbi-") as tmp:
        for task in settings.tasks:
            for budget in settings.budgets:
                sims = Path(tmp) / f"{task}-{budget}.npz"
                if any(c.startswith("sbi") for c in settings.contenders):
                    simulate_to_file(task, budget, settings.seed, sims)
                for name in settings.contenders:
                    rows.append(run_one(name, task, budget, settings, Path(tmp), sims))
    return rows


def run_one(name: str, task: str, budget: int, settings: BenchSettings, tmp: Path,
            sims: Path) -> dict[str, Any]:
    contender = CONTENDERS[name]
    job = SBIJob(name, task, budget, tuple(range(1, settings.observations + 1)), settings.draws,
                 settings.c2st_draws, settings.seed, str(sims))
    row = {"task": task, "simulations": budget, "contender": name, "label": contender.label,
           "method": contender.method}
    start = time.perf_counter()
    if contender.requires and common.library_versions([contender.requires])[
            contender.requires] == "not installed":
        result = {"error": f"{contender.requires} is not installed"}
    else:
        payload = {"job": dataclasses.asdict(job), "result_file": str(tmp / f"{task}-{budget}-{name}.json")}
        result = common.run_worker("benchmarks.sbi", payload, settings.timeout_s)
    row.update(result, wall_s=time.perf_counter() - start)
    detail = ("ERROR " + row["error"]) if "error" in row else (
        f"C2ST {row['c2st']:.3f}, training {row['training_s']:.1f} s, peak {row['peak_rss_mb']:.0f} MiB")
    print(f"[{row['wall_s']:6.1f} s] {task:16s} {budget:>7d} {name:13s} {detail}",
          file=sys.stderr, flush=True)
    return row


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        worker_main(json.loads(args.worker))
        return
    from .sbi_report import build_report

    settings = settings_from(args)
    start, load_before = time.perf_counter(), os.getloadavg()
    rows = run_all(settings)
    meta = {"load_average": {"start": load_before, "end": os.getloadavg()},
            "wall_s": time.perf_counter() - start, "hardware": common.hardware(),
            "versions": common.library_versions(LIBRARIES), "revision": common.git_revision(),
            "settings": dataclasses.asdict(settings)}
    report = build_report(settings, rows, meta, load_tasks().TASKS)
    common.write_results(args.out, "sbi", {**meta, "runs": rows}, report)


if __name__ == "__main__":
    main()
