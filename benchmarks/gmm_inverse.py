"""Diffusion posterior samplers on the exact Gaussian-mixture inverse problem, with deepinv's DPS.

Usage::

    PYTHONPATH=. python -m benchmarks.gmm_inverse --quick     # smoke run: d_x=8, 3 problems, 20 steps
    PYTHONPATH=. python -m benchmarks.gmm_inverse             # full grid (hours on 2 cores)
    PYTHONPATH=. python -m benchmarks.gmm_inverse --dims 8 --steps 100 --only tds,mcgdiff,dps,ddrm

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
runs in one process of its own environment per cell. Writes
``gmm_inverse.json`` and ``gmm_inverse.md`` under ``--out`` atomically.
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
from .gmm_inverse_contenders import CONTENDERS, DEFAULT_CONTENDERS, Job, run_deepinv

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
        smc_populations, smc_particles: TDS and MCGdiff run this many independent
            populations of this many particles (``SMCSamplerConfig``); 0 particles:
            one population of ``draws``.
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
    smc_particles: int = 500

    def smc_options(self) -> dict[str, Any]:
        """``populations`` and ``particles`` of the SMC samplers' ``ppl.infer`` call."""
        if not self.smc_particles:
            return {}
        return {"populations": self.smc_populations, "particles": self.smc_particles}


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
    p.add_argument("--smc-particles", type=int, default=Settings.smc_particles,
                   help="TDS/MCGdiff: particles per population (0: one population of --draws)")
    p.add_argument("--only", default=",".join(DEFAULT_CONTENDERS),
                   help=f"comma-separated contenders, from {', '.join(CONTENDERS)}")
    p.add_argument("--quick", action="store_true", help="small settings for a smoke run")
    p.add_argument("--out", type=Path, default=common.REPO_ROOT / "benchmarks" / "results")
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
                    smc_populations=args.smc_populations, smc_particles=args.smc_particles)


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
               "threads": s.threads, "smc": s.smc_options(), "samples_stem": str(tmp / name), "result_file": str(tmp / f"{name}.json")}
    results = common.run_worker("benchmarks.gmm_inverse", payload, timeout)
    if isinstance(results, dict):  # the whole worker failed
        return [results] * len(jobs)
    return [{**r, "samples": np.load(r.pop("samples_file"))} if "samples_file" in r else r for r in results]


def score_cell(d_x: int, d_y: int, s: Settings, by_contender: dict[str, list[dict[str, Any]]],
               jobs: list[Job]) -> list[dict[str, Any]]:
    """SW of each result and the exact-vs-exact floor, per problem (shared directions)."""
    from models.gmm_inverse import make_gmm_inverse_problem
    from models.sliced import sliced_wasserstein

    rows = []
    for seed in range(s.problems):
        problem = make_gmm_inverse_problem(d_x, d_y, seed)
        reference = problem.posterior_samples(s.reference, seed=10_000 + seed)
        floor = sliced_wasserstein(problem.posterior_samples(s.draws, seed=20_000 + seed), reference,
                                   s.directions, seed=seed)
        for name, results in by_contender.items():
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


def run_all(s: Settings) -> list[dict[str, Any]]:
    rows = []
    for d_x in s.dims:
        for d_y in s.obs_dims:
            jobs = [Job(d_x, d_y, seed, steps) for seed in range(s.problems) for steps in s.steps]
            with tempfile.TemporaryDirectory(prefix="ppl-gmm-inverse-") as tmp:
                results = {}
                for name in s.contenders:
                    start = time.perf_counter()
                    results[name] = run_cell(name, jobs, s, Path(tmp))
                    errors = [r["error"] for r in results[name] if "error" in r]
                    print(f"[{time.perf_counter() - start:7.1f} s] d_x={d_x} d_y={d_y} {name:12s} "
                          f"{len(jobs) - len(errors)}/{len(jobs)} ok" + (f"; {errors[0]}" if errors else ""),
                          file=sys.stderr, flush=True)
                rows += score_cell(d_x, d_y, s, results, jobs)
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.worker:
        worker_main(json.loads(args.worker))
        return {}
    from .gmm_inverse_report import build_report

    settings = settings_from(args)
    start, load_before = time.perf_counter(), os.getloadavg()
    rows = run_all(settings)
    report = build_report(settings, rows, wall_s=time.perf_counter() - start,
                          load=(load_before, os.getloadavg()))
    common.write_results(args.out, "gmm_inverse", report["json"], report["markdown"], json_default=float)
    return report


if __name__ == "__main__":
    main()
