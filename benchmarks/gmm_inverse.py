"""Diffusion posterior samplers on the exact Gaussian-mixture inverse problem, with deepinv's DPS.

Usage::

    PYTHONPATH=. python -m benchmarks.gmm_inverse --quick     # smoke run: d_x=8, 3 problems, 20 steps
    PYTHONPATH=. python -m benchmarks.gmm_inverse             # what is missing of the full grid
    PYTHONPATH=. python -m benchmarks.gmm_inverse --dims 80   # one row (run rows in parallel, one per core)
    PYTHONPATH=. python -m benchmarks.gmm_inverse --plan      # the cells still missing
    PYTHONPATH=. python -m benchmarks.gmm_inverse --report    # rebuild the report from the store

For every d_x in {8, 80, 800}, d_y in {1, 2, 4} and 20 problem seeds
(``models.gmm_inverse``: 25-component mixture prior, random A and sigma_y, exact
posterior), every contender draws 2000 samples at 20 and 100 denoising steps;
the metric is the sliced Wasserstein distance (``models.sliced``, 1000
directions shared by all contenders on a problem) between them and 10 000
exact posterior draws, next to the floor: the same distance for 2000
independent exact draws. Contenders: ppl's dps, pigdm, ddrm, repaint, tds and
mcgdiff (NumPyro backend; ``--only dps-pyro,...`` adds Pyro) and deepinv's DPS
(``PosteriorDiffusion`` + ``DPSDataFidelity`` at the same number of denoiser
evaluations, in its own environment: ``bash benchmarks/envs/deepinv.sh``).

Each ppl contender runs in a fresh worker process per (d_x, d_y) cell; deepinv
runs in one process of its own environment per cell. The full grid takes many
hours on 2 cores, so every finished (d_x, d_y, contender) cell, with its
per-problem rows, goes to a cell store (``benchmarks.cells``, ``--cells``) at
once; later runs skip stored cells (``--rerun`` runs them again) and the report,
``gmm_inverse.json`` and ``gmm_inverse.md`` under ``--out`` (atomic), is built
from every stored cell with the same settings (``CellSettings``) and lists the
missing ones.
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
from .cells import CellStore, LoadMonitor
from .gmm_inverse_contenders import CONTENDERS, DEFAULT_CONTENDERS, Job, run_deepinv

DEFAULT_CELLS = common.REPO_ROOT / "benchmarks" / "results" / "gmm_inverse_cells"
# Bump when a change to a contender or to the scoring changes the numbers: stored
# cells of an older revision then no longer match and are run again.
REVISION = "1"

LIBRARIES = ("numpy", "jax", "jaxlib", "numpyro", "torch", "pyro-ppl")


@dataclass(frozen=True)
class Settings:
    """Everything one run depends on (written to the results).

    Attributes:
        dims, obs_dims: the d_x and d_y of the grid.
        problems: problem seeds 0..problems-1 per (d_x, d_y).
        steps: numbers of denoising steps.
        draws: samples per contender and problem.
        reference: exact posterior draws the samples are compared with.
        directions: random directions of the sliced Wasserstein distance.
        contenders: what runs, in order.
        threads: intra-op threads of every contender (torch, XLA).
        deepinv_guidance, deepinv_weight: DPSDataFidelity's guidance and weight.
        timeout_s: limit per job; a worker gets it times its number of jobs.
        quick: smoke-run sizes.
        smc_populations: TDS and MCGdiff run this many independent populations
            (``SMCSamplerConfig.populations``).
        smc_particles: (method, particles per population) pairs; a method missing
            here, or given 0, runs one population of ``draws``. MCGdiff gets 4x
            TDS's: it needs no denoiser gradient, so 2000 particles cost it about
            what 500 cost TDS, and at d_y = 4 its accuracy still grows from 500
            to 2000 where TDS's has levelled off.
    """

    dims: tuple[int, ...]
    obs_dims: tuple[int, ...]
    problems: int
    steps: tuple[int, ...]
    draws: int
    reference: int
    directions: int
    contenders: tuple[str, ...]
    threads: int = 1
    deepinv_guidance: str = "annealed"
    deepinv_weight: float = 1.0
    timeout_s: float = 600.0
    quick: bool = False
    smc_populations: int = 64
    smc_particles: tuple[tuple[str, int], ...] = (("tds", 500), ("mcgdiff", 2000))

    def smc_options(self, method: str | None) -> dict[str, Any]:
        """``populations`` and ``particles`` of ``method``'s ``ppl.infer`` call ({} for the rest)."""
        particles = dict(self.smc_particles).get(method or "", 0)
        if not particles:
            return {}
        return {"populations": self.smc_populations, "particles": particles}


def parse_particles(text: str) -> tuple[tuple[str, int], ...]:
    """``"tds=500,mcgdiff=2000"`` (or one number for both) as (method, particles) pairs."""
    from inference.diffusion.particles import parse_particles as parse
    from ppl.errors import ParameterError

    try:
        return tuple(parse(text).items())
    except ParameterError as err:
        raise SystemExit(f"--smc-particles: {err}") from None


@dataclass(frozen=True)
class CellSettings:
    """What determines a cell's numbers; cells are reported together only when these agree."""

    problems: int
    steps: tuple[int, ...]
    draws: int
    reference: int
    directions: int
    threads: int
    deepinv_guidance: str
    deepinv_weight: float
    smc_populations: int
    smc_particles: tuple[tuple[str, int], ...]
    revision: str = REVISION

    @classmethod
    def of(cls, s: Settings, revision: str = REVISION) -> "CellSettings":
        return cls(s.problems, s.steps, s.draws, s.reference, s.directions, s.threads, s.deepinv_guidance,
                   s.deepinv_weight, s.smc_populations, s.smc_particles, revision)

    def folder(self) -> str:
        steps = "-".join(map(str, self.steps))
        return f"p{self.problems}-steps{steps}-draws{self.draws}-ref{self.reference}-rev{self.revision}"


def cell_of(row: dict[str, Any]) -> tuple[int, int, str]:
    """A stored cell's key: (d_x, d_y, contender)."""
    return int(row["d_x"]), int(row["d_y"]), str(row["contender"])


def make_store(root: Path, s: Settings, revision: str = REVISION) -> CellStore:
    return CellStore(Path(root), CellSettings.of(s, revision), cell_of)


DEFAULTS = {
    False: {"dims": "8,80,800", "obs_dims": "1,2,4", "problems": 20, "steps": "20,100"},
    True: {"dims": "8", "obs_dims": "1,2,4", "problems": 3, "steps": "20"},
}


def _ints(csv: str) -> tuple[int, ...]:
    return tuple(int(v) for v in str(csv).split(",") if v.strip())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dims", help="comma-separated d_x (even)")
    p.add_argument("--obs-dims", help="comma-separated d_y")
    p.add_argument("--problems", type=int, help="problem seeds per (d_x, d_y)")
    p.add_argument("--steps", help="comma-separated numbers of denoising steps")
    p.add_argument("--draws", type=int, default=2000)
    p.add_argument("--reference", type=int, default=10_000)
    p.add_argument("--directions", type=int, default=1000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--deepinv-guidance", choices=("annealed", "norm"), default="annealed")
    p.add_argument("--deepinv-weight", type=float, default=1.0)
    p.add_argument("--timeout-s", type=float, default=600.0)
    p.add_argument("--smc-populations", type=int, default=Settings.smc_populations,
                   help="TDS/MCGdiff: independent SMC populations per run")
    p.add_argument("--smc-particles", default=",".join(f"{m}={n}" for m, n in Settings.smc_particles),
                   help="TDS/MCGdiff particles per population, e.g. tds=500,mcgdiff=2000 or one "
                        "number for both (0: one population of --draws)")
    p.add_argument("--only", default=",".join(DEFAULT_CONTENDERS),
                   help=f"comma-separated contenders, from {', '.join(CONTENDERS)}")
    p.add_argument("--quick", action="store_true", help="small settings for a smoke run")
    p.add_argument("--out", type=Path, default=common.REPO_ROOT / "benchmarks" / "results")
    p.add_argument("--cells", type=Path,
                   help="cell store: finished cells are kept here and skipped by later runs "
                        "(default benchmarks/results/gmm_inverse_cells; --quick: a temporary folder)")
    p.add_argument("--rerun", action="store_true", help="run the selected cells even when stored")
    p.add_argument("--plan", action="store_true", help="list the missing cells of the full grid and exit")
    p.add_argument("--report", action="store_true", help="rebuild the report from the store, run nothing")
    p.add_argument("--revision", default=REVISION, help="cell revision (bump to invalidate stored cells)")
    p.add_argument("--worker", help=argparse.SUPPRESS)  # internal: JSON payload of one worker
    return p.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    d = common.resolved_defaults(args, DEFAULTS)
    dims = _ints(d["dims"])
    if any(dx < 2 or dx % 2 for dx in dims):
        raise SystemExit(f"every d_x must be even and >= 2, got {dims}")
    return Settings(dims=dims, obs_dims=_ints(d["obs_dims"]), problems=d["problems"],
                    steps=_ints(d["steps"]), draws=args.draws, reference=args.reference,
                    directions=args.directions, contenders=common.select_names(args.only, CONTENDERS),
                    threads=args.threads, deepinv_guidance=args.deepinv_guidance,
                    deepinv_weight=args.deepinv_weight, timeout_s=args.timeout_s, quick=args.quick,
                    smc_populations=args.smc_populations, smc_particles=parse_particles(args.smc_particles))


# -- worker side (one ppl contender, one cell) -------------------------------------------------
def _limit_threads(threads: int) -> None:
    """One intra-op thread count for XLA and torch (set before either is imported)."""
    os.environ["XLA_FLAGS"] = " ".join([os.environ.get("XLA_FLAGS", ""),
                                        f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'}",
                                        f"intra_op_parallelism_threads={threads}"]).strip()
    import torch

    torch.set_num_threads(threads)


def worker_main(payload: dict[str, Any]) -> None:
    """Runs every job of one contender; each job's samples go to a .npy, figures to the result file."""
    from .gmm_inverse_contenders import run_ppl

    _limit_threads(payload["threads"])
    contender, results, warmed = CONTENDERS[payload["contender"]], [], set()
    for i, job in enumerate(Job(**j) for j in payload["jobs"]):
        try:
            samples, figures = run_ppl(contender, job, payload["draws"], payload["smc"])
            if job.num_steps not in warmed:  # once per step count: the same run again, caches warm
                figures["warm_sampling_s"] = run_ppl(contender, job, payload["draws"],
                                                     payload["smc"])[1]["sampling_s"]
                warmed.add(job.num_steps)
        except Exception as exc:  # one failing problem must not hide the others' results
            results.append({"error": f"{type(exc).__name__}: {exc}"[:300]})
            continue
        path = f"{payload['samples_stem']}-{i}.npy"
        np.save(path, samples)
        results.append({**figures, "samples_file": path})
    common.write_atomic(Path(payload["result_file"]), json.dumps(results))


# -- parent side -------------------------------------------------------------------------------
def run_cell(name: str, jobs: list[Job], s: Settings, tmp: Path) -> list[dict[str, Any]]:
    """One contender on every job of a (d_x, d_y) cell: per job samples (or an error) and figures."""
    timeout = s.timeout_s * len(jobs)
    if CONTENDERS[name].kind == "deepinv":
        options = {"guidance": s.deepinv_guidance, "weight": s.deepinv_weight}
        return run_deepinv(jobs, s.draws, s.threads, options, tmp, timeout)
    payload = {"contender": name, "jobs": [dataclasses.asdict(j) for j in jobs], "draws": s.draws,
               "threads": s.threads, "smc": s.smc_options(CONTENDERS[name].method), "samples_stem": str(tmp / name), "result_file": str(tmp / f"{name}.json")}
    results = common.run_worker("benchmarks.gmm_inverse", payload, timeout)
    if isinstance(results, dict):  # the whole worker failed
        return [results] * len(jobs)
    return [{**r, "samples": np.load(r.pop("samples_file"))} if "samples_file" in r else r for r in results]


def score_cell(d_x: int, d_y: int, s: Settings, name: str, results: list[dict[str, Any]],
               jobs: list[Job]) -> list[dict[str, Any]]:
    """SW of contender ``name``'s result per job and the exact-vs-exact floor, per problem (shared directions)."""
    from models.gmm_inverse import make_gmm_inverse_problem
    from models.sliced import sliced_wasserstein

    rows = []
    for seed in range(s.problems):
        problem = make_gmm_inverse_problem(d_x, d_y, seed)
        reference = problem.posterior_samples(s.reference, seed=10_000 + seed)
        floor = sliced_wasserstein(problem.posterior_samples(s.draws, seed=20_000 + seed), reference,
                                   s.directions, seed=seed)
        for job, result in zip(jobs, results):
            if job.seed != seed:
                continue
            row = {"d_x": d_x, "d_y": d_y, "seed": seed, "num_steps": job.num_steps, "contender": name,
                   "floor": floor, "log_evidence_true": problem.log_evidence,
                   **{k: v for k, v in result.items() if k != "samples"}}
            if "samples" in result:
                row["sw"] = sliced_wasserstein(result["samples"], reference, s.directions, seed=seed)
                row["samples_per_s"] = s.draws / row["sampling_s"]
                if "warm_sampling_s" in row:
                    row["warm_samples_per_s"] = s.draws / row["warm_sampling_s"]
            rows.append(row)
    return rows


def run_all(s: Settings, store: CellStore, rerun: bool = False,
            stamp: dict[str, Any] | None = None) -> None:
    """Runs every selected (d_x, d_y, contender) cell not in ``store`` and stores each as it finishes.

    A cell's row holds its per-problem rows (``score_cell``); a cell where any
    problem failed is stored with the first ``error``, so later runs retry it.
    """
    done = store.done()
    for d_x in s.dims:
        for d_y in s.obs_dims:
            jobs = [Job(d_x, d_y, seed, steps) for seed in range(s.problems) for steps in s.steps]
            for name in s.contenders:
                if not rerun and (d_x, d_y, name) in done:
                    print(f"skip d_x={d_x} d_y={d_y} {name}: stored in {store.path((d_x, d_y, name))}",
                          file=sys.stderr)
                    continue
                with tempfile.TemporaryDirectory(prefix="ppl-gmm-inverse-") as tmp, LoadMonitor() as load:
                    start = time.perf_counter()
                    results = run_cell(name, jobs, s, Path(tmp))
                    wall = time.perf_counter() - start
                    rows = score_cell(d_x, d_y, s, name, results, jobs)
                errors = [r["error"] for r in results if "error" in r]
                cell = {"d_x": d_x, "d_y": d_y, "contender": name, "wall_s": wall, "rows": rows}
                if errors:
                    cell["error"] = f"{len(errors)} of {len(jobs)} jobs failed; first: {errors[0]}"
                store.write(cell, load, **(stamp or {}))
                print(f"[{wall:7.1f} s] d_x={d_x} d_y={d_y} {name:12s} {len(jobs) - len(errors)}/{len(jobs)} ok"
                      + (f"; {errors[0]}" if errors else ""), file=sys.stderr, flush=True)


def full_grid(s: Settings) -> list[tuple[int, int, str]]:
    """Every (d_x, d_y, contender) cell of the whole table (the full or quick one).

    The contenders are the default ones plus any this run names, so a run
    restricted by ``--only`` still reports the rest of the table as missing.
    """
    grid = DEFAULTS[s.quick]
    names = list(dict.fromkeys((*DEFAULT_CONTENDERS, *s.contenders)))
    return [(d_x, d_y, name) for d_x in _ints(grid["dims"]) for d_y in _ints(grid["obs_dims"])
            for name in names]


def missing_cells(s: Settings, store: CellStore) -> list[tuple[int, int, str]]:
    """The cells of ``full_grid`` not done in ``store`` (absent, or stored with an error)."""
    done = store.done()
    return [c for c in full_grid(s) if c not in done]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.worker:
        worker_main(json.loads(args.worker))
        return {}
    settings = settings_from(args)
    with tempfile.TemporaryDirectory(prefix="ppl-gmm-cells-") as scratch:
        cells = args.cells or (Path(scratch) if args.quick else DEFAULT_CELLS)
        return run_and_report(args, settings, make_store(cells, settings, args.revision))


def run_and_report(args: argparse.Namespace, settings: Settings, store: CellStore) -> dict[str, Any]:
    """``--plan``, or the missing cells run (unless ``--report``) and the report of the whole store."""
    from .gmm_inverse_report import build_report

    if args.plan:
        missing = missing_cells(settings, store)
        print("\n".join(f"d_x={d_x:4d} d_y={d_y} {name}" for d_x, d_y, name in missing)
              + f"\n{len(missing)} of {len(full_grid(settings))} cells missing")
        return {"missing": missing}
    if not args.report:
        run_all(settings, store, args.rerun, {"git_revision": common.git_revision()})
    report = build_report(settings, list(store.rows().values()), missing_cells(settings, store))
    common.write_results(args.out, "gmm_inverse", report["json"], report["markdown"], json_default=float)
    return report


if __name__ == "__main__":
    main()
