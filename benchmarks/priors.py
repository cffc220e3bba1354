"""Learned priors benchmark: torch training time to a quality bar; JAX vs torch evaluation.

Usage::

    PYTHONPATH=. python -m benchmarks.priors            # full run (~5-8 min, 2 cores)
    PYTHONPATH=. python -m benchmarks.priors --quick    # smoke run (~1-2 min)

Training (torch) of each prior runs in a fresh worker process, in chunks of
the contender's ``chunk`` steps (each chunk resumes from the previous one's
checkpoint, so the time includes checkpoint I/O); after each chunk, with the
clock stopped, the prior is scored and training stops once it meets its bar.
"Steps" is thus resolved to one chunk. Quality bars (classifier two-sample test,
``models.testing.c2st_accuracy``; 0.5 = indistinguishable):

* flow on two moons: C2ST(1000 draws, 1000 fresh moons) <= 0.60;
* diffusion on digits: C2ST(297 DDIM-50 draws, the 297 held-out test digits)
  <= 0.60. With so few images the classifier itself scores about 0.57 on
  training vs test digits (reported as ``digits_c2st_baseline``), so the bar
  means "close to the data's own split noise".

Evaluation: each trained checkpoint is loaded in a fresh worker per backend
and timed (median of ``repeats`` after one warm-up call, whose time includes
JAX compilation): diffusion sampling throughput with DDIM at ``ddim_steps``
steps (``jax`` jits the denoiser and loops in Python, as ``DiffusionPrior``
does; ``jax-jit`` jits the whole sampler), flow sampling and log_prob
throughput. Peak memory is each worker's own peak RSS (VmHWM; ``ru_maxrss``
would report the parent's size for a fresh exec). Writes ``priors.json`` and
``priors.md`` under ``--out`` atomically.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from . import common

MODULE = "benchmarks.priors"
LIBRARIES = ("numpy", "torch", "jax", "jaxlib", "scikit-learn")


@dataclass(frozen=True)
class Settings:
    """Everything one run depends on (written to the results)."""

    quick: bool
    threads: int = 1  # torch and XLA intra-op threads: tiny nets are fastest on one
    chunk: int | None = None  # steps between quality checks (None: the contender's own)
    max_steps: int = 4000
    digits_bar: float = 0.60
    moons_bar: float = 0.60
    ddim_steps: int = 50
    n_diffusion: int = 256
    n_flow: int = 10_000
    repeats: int = 3
    timeout_s: float = 420.0

    @classmethod
    def make(cls, quick: bool) -> "Settings":
        if not quick:
            return cls(quick=False)
        return cls(quick=True, chunk=50, max_steps=100, ddim_steps=10, n_diffusion=64, n_flow=2000,
                   repeats=2, timeout_s=180.0)


# -- contenders (worker side; heavy imports stay inside functions) -----------------------
def _digits_quality(prior: Any, settings: Settings) -> float:
    from models import load_digits
    from models.testing import c2st_accuracy

    test = load_digits("test", flat=True).images
    draws = prior.sample(len(test), seed=1, sampler="ddim", num_steps=settings.ddim_steps)
    return c2st_accuracy(draws.numpy().reshape(len(test), -1), test)


def _moons_quality(prior: Any, settings: Settings) -> float:
    import numpy as np

    from models import two_moons
    from models.testing import c2st_accuracy

    return c2st_accuracy(prior.sample(1000, seed=1).numpy(), two_moons(1000, np.random.default_rng(1)))


def _train_diffusion(net: Any) -> Callable[..., Any]:
    def train(steps: int, chunk: int, ckpt: str) -> Any:
        from models import DiffusionPrior, load_digits

        return DiffusionPrior.train(load_digits("train").images, steps=steps, batch_size=128, lr=2e-3,
                                    formulation="edm", net=net(), checkpoint_dir=ckpt,
                                    checkpoint_every=chunk, progress=False)
    return train


def _train_flow(steps: int, chunk: int, ckpt: str) -> Any:
    import numpy as np

    from models import FlowPrior, two_moons

    return FlowPrior.train(two_moons(4000, np.random.default_rng(0)), steps=steps, batch_size=256, lr=2e-3,
                           coupling="spline", checkpoint_dir=ckpt, checkpoint_every=chunk,
                           progress=False)


def _mlp():
    from models import MLPConfig

    return MLPConfig(data_dim=64, hidden_dim=256)


def _unet():
    from models import UNetConfig

    return UNetConfig(image_shape=(1, 8, 8), channels=(16, 32))


@dataclass(frozen=True)
class Contender:
    """A prior on a data set: how to train it, score it, and which bar it must meet."""

    prior: str  # "diffusion" or "flow": picks the evaluation
    description: str
    train: Callable[[int, int, str], Any]  # (steps, checkpoint_every, checkpoint_dir) -> prior
    quality: Callable[[Any, Settings], float]
    bar: str  # name of the Settings field holding the bar
    chunk: int  # steps between quality checks: the resolution of "steps to the bar"


CONTENDERS = {
    "diffusion_digits_mlp": Contender("diffusion", "DiffusionPrior EDM, MLP 256x3, batch 128",
                                      _train_diffusion(_mlp), _digits_quality, "digits_bar", 250),
    "diffusion_digits_unet": Contender("diffusion", "DiffusionPrior EDM, UNet (16, 32), batch 128",
                                       _train_diffusion(_unet), _digits_quality, "digits_bar", 100),
    "flow_moons": Contender("flow", "FlowPrior spline, 4 layers x 64, batch 256",
                            _train_flow, _moons_quality, "moons_bar", 50),
}
EVAL_BACKENDS = {"diffusion": ("torch", "jax", "jax-jit"), "flow": ("torch", "jax")}


def train_worker(name: str, settings: Settings, out_dir: str) -> dict[str, Any]:
    """Train in chunks until the bar is met; save the prior for the evaluation workers."""
    for module in ("models.diffusion", "models.flow", "models.training"):
        importlib.import_module(module)  # importing is not training: keep it off the clock

    contender, bar = CONTENDERS[name], getattr(settings, CONTENDERS[name].bar)
    chunk = settings.chunk or contender.chunk
    history, train_s, prior = [], 0.0, None
    for steps in range(chunk, settings.max_steps + 1, chunk):
        start = time.perf_counter()
        prior = contender.train(steps, chunk, os.path.join(out_dir, "runs", name))
        train_s += time.perf_counter() - start
        history.append({"steps": steps, "train_s": round(train_s, 2), "c2st": contender.quality(prior, settings)})
        if history[-1]["c2st"] <= bar:
            break
    prior.save(os.path.join(out_dir, "checkpoints", name))
    reached = history[-1]["c2st"] <= bar
    return {"name": name, "description": contender.description, "bar": bar, "reached": reached,
            "steps": history[-1]["steps"], "train_s": history[-1]["train_s"], "c2st": history[-1]["c2st"],
            "history": history, "peak_rss_mb": common.peak_rss_mb()}


def _timed(fn: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """(first-call seconds, median seconds of ``repeats`` further calls)."""
    def once() -> float:
        start = time.perf_counter()
        out = fn()
        getattr(out, "block_until_ready", lambda: None)()  # JAX dispatches asynchronously
        return time.perf_counter() - start

    first = once()
    return first, statistics.median(once() for _ in range(repeats))


def _eval_jobs(prior: Any, kind: str, backend: str, settings: Settings) -> dict[str, tuple[int, Callable]]:
    """Operation -> (items per call, zero-argument call) on an already loaded prior."""
    import numpy as np

    if kind == "flow":
        from models import two_moons

        # Data, not flow draws: drawing here would compile the sampler before it is timed.
        x = prior.backend.asarray(two_moons(settings.n_flow, np.random.default_rng(2)).astype(np.float32))
        return {"sample": (settings.n_flow, lambda: prior.sample(settings.n_flow, seed=0)),
                "log_prob": (settings.n_flow, lambda: prior.log_prob(x))}
    shape = prior.noise_shape(settings.n_diffusion, "ddim", settings.ddim_steps)
    noise = prior.backend.asarray(np.random.default_rng(0).standard_normal(shape).astype(np.float32))
    sample = lambda nz: prior.sample_from_noise(nz, "ddim", settings.ddim_steps)  # noqa: E731
    if backend == "jax-jit":
        import jax

        sample = jax.jit(sample)
    return {f"sample_ddim{settings.ddim_steps}": (settings.n_diffusion, lambda: sample(noise))}


def eval_worker(name: str, backend: str, settings: Settings, out_dir: str) -> dict[str, Any]:
    """Throughput of one trained prior on one backend."""
    import models

    kind = CONTENDERS[name].prior
    cls = models.DiffusionPrior if kind == "diffusion" else models.FlowPrior
    prior = cls.load(os.path.join(out_dir, "checkpoints", name), backend=backend.split("-")[0])
    rows = []
    for op, (items, fn) in _eval_jobs(prior, kind, backend, settings).items():
        first, median = _timed(fn, settings.repeats)
        rows.append({"name": name, "backend": backend, "op": op, "items": items, "first_call_s": round(first, 4),
                     "median_s": round(median, 4), "items_per_s": round(items / median, 1)})
    return {"rows": rows, "peak_rss_mb": common.peak_rss_mb(), "torch_imported": "torch" in sys.modules}


def _limit_threads(threads: int, backend: str) -> None:
    """Same intra-op thread count for torch and XLA (set before either is imported)."""
    if backend.startswith("jax"):
        os.environ["XLA_FLAGS"] = " ".join([os.environ.get("XLA_FLAGS", ""), "--xla_cpu_multi_thread_eigen="
                                            + ("true" if threads > 1 else "false"),
                                            f"intra_op_parallelism_threads={threads}"]).strip()
    else:  # a JAX worker never imports torch, so its peak memory is JAX's alone
        import torch

        torch.set_num_threads(threads)


def worker_main(payload: dict[str, Any]) -> None:
    settings = Settings(**payload["settings"])
    _limit_threads(settings.threads, payload.get("backend", "torch"))
    if payload["job"] == "train":
        result = train_worker(payload["name"], settings, payload["out_dir"])
    else:
        result = eval_worker(payload["name"], payload["backend"], settings, payload["out_dir"])
    Path(payload["result_file"]).write_text(json.dumps(result))


# -- parent side -----------------------------------------------------------------------
def _run(job: str, settings: Settings, out_dir: str, **fields: Any) -> dict[str, Any]:
    result_file = os.path.join(out_dir, f"{job}-{'-'.join(fields.values())}.json")
    payload = {"job": job, "settings": dataclasses.asdict(settings), "out_dir": out_dir,
               "result_file": result_file, **fields}
    print(f"[priors] {job} {' '.join(fields.values())} ...", flush=True)
    result = common.run_worker(MODULE, payload, settings.timeout_s)
    print(f"[priors]   -> {json.dumps(result)[:300]}", flush=True)
    return result


def _eval_rows(name: str, settings: Settings, out_dir: str) -> list[dict[str, Any]]:
    rows = []
    for backend in EVAL_BACKENDS[CONTENDERS[name].prior]:
        result = _run("eval", settings, out_dir, name=name, backend=backend)
        extra = {"peak_rss_mb": result.get("peak_rss_mb"), "error": result.get("error")}
        rows += [{**row, **extra} for row in result.get("rows", [])] or [
            {"name": name, "backend": backend, **extra}]
    torch_rate = {r["op"]: r["items_per_s"] for r in rows if r["backend"] == "torch" and "op" in r}
    for row in rows:
        if row.get("op") in torch_rate:
            row["ratio_vs_torch"] = round(row["items_per_s"] / torch_rate[row["op"]], 2)
    return rows


def _digits_baseline() -> float:
    from models import load_digits
    from models.testing import c2st_accuracy

    train, test = load_digits("train", flat=True).images, load_digits("test", flat=True).images
    return round(c2st_accuracy(train[:len(test)], test), 3)


def markdown(report: dict[str, Any]) -> str:
    train_rows = [[r.get("name"), r.get("description", ""), r.get("bar"), r.get("reached"), r.get("steps"),
                   r.get("train_s"), _round(r.get("c2st")), _round(r.get("peak_rss_mb"), 0), r.get("error", "")]
                  for r in report["training"]]
    eval_rows = [[r["name"], r["backend"], r.get("op", ""), r.get("items", ""), r.get("first_call_s", ""),
                  r.get("median_s", ""), r.get("items_per_s", ""), r.get("ratio_vs_torch", ""),
                  _round(r.get("peak_rss_mb"), 0), r.get("error") or ""] for r in report["evaluation"]]
    return "\n\n".join([
        "# Learned priors: training to a quality bar (torch) and evaluation (torch vs JAX)",
        f"Hardware: {report['hardware']['cpu']}, {report['hardware']['cores_usable']} usable cores; "
        f"threads per worker: {report['settings']['threads']}; git {report['git']}; "
        f"digits C2ST baseline (train vs test digits): {report['digits_c2st_baseline']}.",
        "## Training time to the bar (C2ST <= bar; time excludes scoring)",
        common.markdown_table(["prior", "setup", "bar", "reached", "steps", "train s", "C2ST", "peak RSS MiB",
                               "error"], train_rows),
        "## Evaluation throughput (median of repeats after a warm-up call)",
        common.markdown_table(["prior", "backend", "op", "items", "first call s", "median s", "items/s",
                               "x torch", "peak RSS MiB", "error"], eval_rows),
        f"Settings: `{json.dumps(report['settings'])}`",
    ]) + "\n"


def _round(value: Any, digits: int = 3) -> Any:
    return round(value, digits) if isinstance(value, float) else value


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke-run sizes")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {sorted(CONTENDERS)}")
    parser.add_argument("--out", default=str(common.REPO_ROOT / "benchmarks" / "results"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: JSON payload of one job
    args = parser.parse_args(argv)
    if args.worker:
        worker_main(json.loads(args.worker))
        return {}
    settings = Settings.make(args.quick)
    names = [n for n in CONTENDERS if not args.only or n in args.only.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-priors-") as work:
        training = [{"name": n, **_run("train", settings, work, name=n)} for n in names]
        evaluation = [row for n, t in zip(names, training) if "error" not in t for row in _eval_rows(n, settings, work)]
    report = {"benchmark": "priors", "settings": dataclasses.asdict(settings), "hardware": common.hardware(),
              "libraries": common.library_versions(LIBRARIES), "git": common.git_revision(),
              "digits_c2st_baseline": _digits_baseline(), "training": training, "evaluation": evaluation}
    out = Path(args.out)
    suffix = "_quick" if args.quick else ""
    common.write_atomic(out / f"priors{suffix}.json", json.dumps(report, indent=2) + "\n")
    common.write_atomic(out / f"priors{suffix}.md", markdown(report))
    print(markdown(report))
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
