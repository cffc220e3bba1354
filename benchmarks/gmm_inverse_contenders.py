"""Contenders of the mixture inverse-problem benchmark: ppl's diffusion samplers and deepinv's DPS.

A job is one (d_x, d_y, seed, num_steps) instance. ppl runners run inside a
worker process of ``benchmarks.gmm_inverse`` and declare each problem in the
language::

    x = ppl.sample("x", prior.as_distribution())
    ppl.sample("y", dist.Normal(ppl.linops.Dense(A)(x), sigma_y))

deepinv runs in its own virtual environment (``benchmarks/envs/deepinv.sh``)
through ``benchmarks/gmm_inverse_deepinv.py``, which gets the problem as an
``.npz`` file, so it never imports ppl.
"""
from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import common

DEEPINV_PYTHON = common.REPO_ROOT / ".bench-venvs" / "deepinv" / "bin" / "python"
DEEPINV_SCRIPT = common.REPO_ROOT / "benchmarks" / "gmm_inverse_deepinv.py"


@dataclass(frozen=True)
class Job:
    """One problem instance for one contender at one number of steps."""

    d_x: int
    d_y: int
    seed: int
    num_steps: int


@dataclass(frozen=True)
class Contender:
    """A sampler under test.

    Attributes:
        name: identifier on the command line (``--only``).
        label: what the report calls it.
        kind: ``"ppl"`` (a registered method) or ``"deepinv"``.
        method: the ppl method name (kind "ppl").
        backend: ``"numpyro"`` or ``"pyro"`` (kind "ppl"), ``"torch"`` for deepinv.
    """

    name: str
    label: str
    kind: str
    method: str | None = None
    backend: str = "numpyro"


METHODS = ("dps", "pigdm", "ddrm", "repaint", "tds", "mcgdiff")
LABELS = {"dps": "DPS", "pigdm": "ΠGDM", "ddrm": "DDRM", "repaint": "RePaint", "tds": "TDS",
          "mcgdiff": "MCGdiff"}
CONTENDERS = {m: Contender(m, f"ppl {LABELS[m]} (NumPyro)", "ppl", m) for m in METHODS}
CONTENDERS.update({f"{m}-pyro": Contender(f"{m}-pyro", f"ppl {LABELS[m]} (Pyro)", "ppl", m, "pyro")
                   for m in METHODS})
CONTENDERS["deepinv-dps"] = Contender("deepinv-dps", "deepinv DPS (PosteriorDiffusion)", "deepinv",
                                      backend="torch")
DEFAULT_CONTENDERS = (*METHODS, "deepinv-dps")


def method_options(job: Job, draws: int, smc: dict[str, Any] | None = None) -> dict[str, Any]:
    """Options of ``ppl.infer``: every method at ``num_steps`` denoising steps, ``draws`` draws.

    The SMC samplers also get ``smc`` (``populations``, ``particles``); they resample
    at the end, so every contender hands back ``draws`` equally weighted samples.
    Why populations: one population's draws share ancestors, so on the multimodal
    d_y = 1 posteriors its mode proportions are those of a few dozen independent
    draws; independent populations, each resampled to draws / populations,
    average that out.
    """
    return {"num_steps": job.num_steps, "draws": draws, "chains": 1, "seed": job.seed,
            "progress": False, **(smc or {})}


# -- ppl (inside a worker process) ---------------------------------------------------------
def build_model(problem: Any) -> Any:
    """The benchmark instance declared in the language, y observed."""
    import ppl
    from ppl import dist

    op = ppl.linops.Dense(problem.A)
    prior = problem.prior.as_distribution()

    @ppl.model
    def mixture_inverse(sigma_y):
        x = ppl.sample("x", prior)
        ppl.sample("y", dist.Normal(op(x), sigma_y))

    return mixture_inverse(problem.sigma_y).observe(y=problem.y)


def run_ppl(contender: Contender, job: Job, draws: int,
            smc: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Samples (draws, d_x) and figures of one ppl run, timed from the model declaration."""
    import importlib

    import ppl

    # Registers the method (inference.diffusion registers its modules on import).
    importlib.import_module(f"inference.diffusion.{contender.method}")
    from models.gmm_inverse import make_gmm_inverse_problem

    problem = make_gmm_inverse_problem(job.d_x, job.d_y, job.seed)
    start = time.perf_counter()
    post = ppl.infer(build_model(problem), method=contender.method, backend=contender.backend,
                     **method_options(job, draws, smc))
    wall = time.perf_counter() - start
    samples = _equally_weighted(post, job.seed).reshape(-1, job.d_x)
    return samples, {"wall_s": wall, "sampling_s": float(post.extras.get("seconds", wall)),
                     "nfe": int(post.extras.get("nfe", 0)), "log_evidence": post.log_evidence}


def _equally_weighted(post: Any, seed: int) -> np.ndarray:
    """The draws, multinomially resampled when the method returned weighted particles."""
    x = np.asarray(post.samples["x"], dtype=np.float64)
    x = x.reshape(-1, x.shape[-1])
    if "log_weight" not in post.sample_stats:
        return x
    log_w = np.asarray(post.sample_stats["log_weight"], dtype=np.float64).reshape(-1)
    w = np.exp(log_w - log_w.max())
    return x[np.random.default_rng(seed).choice(len(x), size=len(x), p=w / w.sum())]


# -- deepinv (its own environment) ---------------------------------------------------------
def deepinv_problem_file(path: Path, job: Job, draws: int, threads: int, options: dict[str, Any]) -> None:
    """Writes the instance and settings that ``gmm_inverse_deepinv.py`` reads."""
    from models.gmm_inverse import make_gmm_inverse_problem

    p = make_gmm_inverse_problem(job.d_x, job.d_y, job.seed)
    arrays = dict(weights=p.prior.weights, means=p.prior.means,
                  variances=np.diagonal(p.prior.covariances, axis1=1, axis2=2), A=p.A,
                  sigma_y=p.sigma_y, y=p.y, num_steps=job.num_steps, num_samples=draws,
                  seed=job.seed, threads=threads, **options)
    save_npz(path, arrays)


def save_npz(path: Path, arrays: dict[str, Any]) -> None:
    """``np.savez`` atomically (keeps the exact file name: no ``.npz`` appended)."""
    from ppl.io import atomic_write

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    atomic_write(str(path), write)


def run_deepinv(jobs: list[Job], draws: int, threads: int, options: dict[str, Any], tmp: Path,
                timeout_s: float, python: Path = DEEPINV_PYTHON) -> list[dict[str, Any]]:
    """Runs every job in one deepinv process; returns per job samples file or an error."""
    if not Path(python).exists():
        return [{"error": f"deepinv env missing ({python}); run bash benchmarks/envs/deepinv.sh"}] * len(jobs)
    args, outs = [], []
    for i, job in enumerate(jobs):
        problem, out = tmp / f"deepinv-{i}-in.npz", tmp / f"deepinv-{i}-out.npz"
        deepinv_problem_file(problem, job, draws, threads, options)
        args += [str(problem), str(out)]
        outs.append(out)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    try:
        proc = subprocess.run([str(python), str(DEEPINV_SCRIPT), *args], capture_output=True, text=True,
                              timeout=timeout_s, env=env, check=False)
        failure = None if proc.returncode == 0 else " | ".join(proc.stderr.strip().splitlines()[-3:])
    except subprocess.TimeoutExpired:
        failure = f"timed out after {timeout_s:.0f} s"
    return [_deepinv_result(out, failure) for out in outs]


def _deepinv_result(out: Path, failure: str | None) -> dict[str, Any]:
    if not out.exists():
        return {"error": failure or "deepinv wrote no result"}
    with np.load(out) as f:
        return {"samples": f["samples"], "wall_s": float(f["wall_s"]), "sampling_s": float(f["wall_s"]),
                "nfe": float(f["nfe"]), "log_evidence": None,
                "versions": {"deepinv": str(f["deepinv_version"]), "torch (deepinv env)": str(f["torch_version"])}}
