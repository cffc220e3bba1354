"""Learned priors benchmark: torch training time to a quality bar; JAX vs torch evaluation.

Usage::

    PYTHONPATH=. python -m benchmarks.priors            # full run (~5-8 min, 2 cores)
    PYTHONPATH=. python -m benchmarks.priors --quick    # smoke run (~1-2 min)

Training (torch) of each prior runs in a fresh worker process, in chunks of
the contender's ``chunk`` steps (each chunk resumes from the previous one's
checkpoint, so the time includes checkpoint I/O); after each chunk, with the
clock stopped, the prior is scored and training stops once it meets its bar
or its training time passes ``max_train_s``. "Steps" is thus resolved to one
chunk. Quality bars:

* flow on two moons: classifier two-sample test (``models.testing.c2st_accuracy``,
  0.5 = indistinguishable), C2ST(1000 draws, 1000 fresh moons) <= 0.60;
* diffusion on digits: Fréchet distance in digit-classifier features
  (``models.metrics``; images clipped to the pixel range [-1, 1] before
  embedding) of 1000 draws (the formulation's default sampler) to the 297
  held-out test digits <= 0.60, within ``max_train_s`` = 300 s. The
  same run reports the floor (training vs test digits) and two baselines fitted
  to the training digits (a full-covariance Gaussian, a 50-component Gaussian
  mixture; ``digits_reference_scores``), whether the prior beats the mixture
  (a digits prior trains until it is at the bar *and* below the mixture's FD),
  and the classifier's histogram of the draws' predicted classes (target: no
  class below half of uniform, i.e. 0.05).
  Measured outside this harness (2 shared cores, so times are inflated): the
  UNet (16, 32) at batch 128, lr 2e-3 reaches FD 0.710 / 0.649 / 0.591 /
  0.575 / 0.582 after 1000 / 4000 / 6000 / 8000 / 9000 steps (min class 0.08),
  i.e. under the 0.60 bar but not below the mixture's 0.554; the MLP 256x3
  stalls near 0.83 (12000 steps, batch 256).

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
    max_steps: int = 20_000  # high enough that max_train_s, not the step cap, ends a slow prior
    max_train_s: float = 300.0
    digits_bar: float = 0.60  # Fréchet distance
    moons_bar: float = 0.60  # C2ST accuracy
    digits_samples: int = 1000
    ddim_steps: int = 50
    n_diffusion: int = 256
    n_flow: int = 10_000
    repeats: int = 3
    timeout_s: float = 900.0  # per worker: max_train_s of training plus scoring after each chunk

    @classmethod
    def make(cls, quick: bool) -> "Settings":
        if not quick:
            return cls(quick=False)
        return cls(quick=True, chunk=50, max_steps=100, max_train_s=60.0, ddim_steps=10, n_diffusion=64,
                   n_flow=2000, repeats=2, timeout_s=180.0)


# -- contenders (worker side; heavy imports stay inside functions) -----------------------
def _digits_draws(prior: Any, settings: Settings) -> Any:
    return prior.sample(settings.digits_samples, seed=1).numpy()


def _digits_quality(prior: Any, settings: Settings) -> float:
    from models.metrics import digits_frechet_distance

    return digits_frechet_distance(_digits_draws(prior, settings))


def _digits_extra(prior: Any, settings: Settings) -> dict[str, Any]:
    from models.metrics import digits_class_histogram

    histogram = digits_class_histogram(_digits_draws(prior, settings))
    return {"class_histogram": [round(float(v), 3) for v in histogram],
            "min_class_fraction": round(float(histogram.min()), 3)}


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
    metric: str  # what ``quality`` measures ("c2st", "fd"); lower is better
    bar: str  # name of the Settings field holding the bar
    chunk: int  # steps between quality checks: the resolution of "steps to the bar"
    extra: Callable[[Any, Settings], dict[str, Any]] = lambda prior, settings: {}


CONTENDERS = {
    "diffusion_digits_mlp": Contender("diffusion", "DiffusionPrior EDM, MLP 256x3, batch 128",
                                      _train_diffusion(_mlp), _digits_quality, "fd", "digits_bar", 500,
                                      _digits_extra),
    # Scored every 1000 steps: 1000 Heun draws through the UNet cost seconds, so finer chunks
    # mostly add scoring time (a 200-step chunk timed the worker out).
    "diffusion_digits_unet": Contender("diffusion", "DiffusionPrior EDM, UNet (16, 32), batch 128",
                                       _train_diffusion(_unet), _digits_quality, "fd", "digits_bar", 1000,
                                       _digits_extra),
    "flow_moons": Contender("flow", "FlowPrior spline, 4 layers x 64, batch 256",
                            _train_flow, _moons_quality, "c2st", "moons_bar", 50),
}
EVAL_BACKENDS = {"diffusion": ("torch", "jax", "jax-jit"), "flow": ("torch", "jax")}


def train_worker(name: str, settings: Settings, out_dir: str, beat: float | None = None) -> dict[str, Any]:
    """Train in chunks until the bar is met (and the score is below ``beat``, the GMM-50
    baseline's FD for the digits); save the prior for the evaluation workers."""
    for module in ("models.diffusion", "models.flow", "models.training"):
        importlib.import_module(module)  # importing is not training: keep it off the clock

    contender, bar = CONTENDERS[name], getattr(settings, CONTENDERS[name].bar)
    chunk = settings.chunk or contender.chunk
    history, train_s, prior = [], 0.0, None
    for steps in range(chunk, settings.max_steps + 1, chunk):
        start = time.perf_counter()
        prior = contender.train(steps, chunk, os.path.join(out_dir, "runs", name))
        train_s += time.perf_counter() - start
        history.append({"steps": steps, "train_s": round(train_s, 2),
                        "score": round(contender.quality(prior, settings), 4)})
        score = history[-1]["score"]
        if (score <= bar and (beat is None or score < beat)) or train_s >= settings.max_train_s:
            break
    prior.save(os.path.join(out_dir, "checkpoints", name))
    last = history[-1]
    reached = last["score"] <= bar and last["train_s"] <= settings.max_train_s
    return {"name": name, "description": contender.description, "metric": contender.metric, "bar": bar,
            "reached": reached, "steps": last["steps"], "train_s": last["train_s"], "score": last["score"],
            **contender.extra(prior, settings), "history": history, "peak_rss_mb": common.peak_rss_mb()}


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
        result = train_worker(payload["name"], settings, payload["out_dir"], payload.get("beat"))
    else:
        result = eval_worker(payload["name"], payload["backend"], settings, payload["out_dir"])
    Path(payload["result_file"]).write_text(json.dumps(result))


# -- parent side -----------------------------------------------------------------------
def _run(job: str, settings: Settings, out_dir: str, beat: float | None = None, **fields: Any) -> dict[str, Any]:
    result_file = os.path.join(out_dir, f"{job}-{'-'.join(fields.values())}.json")
    payload = {"job": job, "settings": dataclasses.asdict(settings), "out_dir": out_dir,
               "result_file": result_file, "beat": beat, **fields}
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


def _digits_reference(settings: Settings) -> dict[str, float]:
    """FD of the floor and the baselines (numpy / scikit-learn only: fine in the parent)."""
    from models.metrics import digits_reference_scores

    scores = digits_reference_scores(num_samples=settings.digits_samples, mixture_components=50)
    return {k: round(v, 3) for k, v in scores.items()}


def _versus_mixture(training: list[dict[str, Any]], reference: dict[str, float]) -> None:
    for row in training:
        if row.get("metric") == "fd":
            row["beats_gmm50"] = row["score"] < reference["gmm50"]


def markdown(report: dict[str, Any]) -> str:
    train_rows = [[r.get("name"), r.get("description", ""), r.get("metric"), r.get("bar"), r.get("reached"),
                   r.get("steps"), r.get("train_s"), _round(r.get("score")), r.get("beats_gmm50", ""),
                   r.get("min_class_fraction", ""), _round(r.get("peak_rss_mb"), 0), r.get("error", "")]
                  for r in report["training"]]
    histograms = [[r["name"], *r["class_histogram"]] for r in report["training"] if "class_histogram" in r]
    reference = report["digits_fd_reference"]
    eval_rows = [[r["name"], r["backend"], r.get("op", ""), r.get("items", ""), r.get("first_call_s", ""),
                  r.get("median_s", ""), r.get("items_per_s", ""), r.get("ratio_vs_torch", ""),
                  _round(r.get("peak_rss_mb"), 0), r.get("error") or ""] for r in report["evaluation"]]
    return "\n\n".join([
        "# Learned priors: training to a quality bar (torch) and evaluation (torch vs JAX)",
        f"Hardware: {report['hardware']['cpu']}, {report['hardware']['cores_usable']} usable cores; "
        f"threads per worker: {report['settings']['threads']}; git {report['git']}.",
        "## Training time to the bar (score <= bar within max_train_s; time excludes scoring)",
        "Metrics: `fd` = Fréchet distance in digit-classifier features of "
        f"{report['settings']['digits_samples']} draws to the test digits (`models.metrics`); "
        "`c2st` = classifier two-sample accuracy. Digits FD references (same metric): "
        f"floor (train vs test digits) {reference['floor']}, full-covariance Gaussian {reference['gaussian']}, "
        f"50-component Gaussian mixture {reference['gmm50']}.",
        common.markdown_table(["prior", "setup", "metric", "bar", "reached", "steps", "train s", "score",
                               "beats GMM-50", "min class frac", "peak RSS MiB", "error"], train_rows),
        "## Predicted-class histogram of the digit draws (target: every class >= 0.05)",
        common.markdown_table(["prior", *map(str, range(10))], histograms),
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
    reference = _digits_reference(settings)  # the digits priors train until they beat the mixture too
    with tempfile.TemporaryDirectory(prefix="bench-priors-") as work:
        training = [{"name": n, **_run("train", settings, work, name=n,
                                       beat=reference["gmm50"] if CONTENDERS[n].metric == "fd" else None)}
                    for n in names]
        evaluation = [row for n, t in zip(names, training) if "error" not in t for row in _eval_rows(n, settings, work)]
    report = {"benchmark": "priors", "settings": dataclasses.asdict(settings), "hardware": common.hardware(),
              "libraries": common.library_versions(LIBRARIES), "git": common.git_revision(),
              "digits_fd_reference": reference, "training": training, "evaluation": evaluation}
    _versus_mixture(training, report["digits_fd_reference"])
    out = Path(args.out)
    suffix = "_quick" if args.quick else ""
    common.write_atomic(out / f"priors{suffix}.json", json.dumps(report, indent=2) + "\n")
    common.write_atomic(out / f"priors{suffix}.md", markdown(report))
    print(markdown(report))
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
