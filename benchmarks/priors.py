"""Learned priors benchmark: training time to a quality bar and evaluation throughput, torch vs JAX.

Usage::

    PYTHONPATH=. python -m benchmarks.priors            # full run (~15 min, 2 cores)
    PYTHONPATH=. python -m benchmarks.priors --quick    # smoke run (~1-2 min)

Every prior trains on each of ``train_backends`` (torch and JAX, with
``train_threads`` = 2 intra-op threads: the issue grants the digits prior 2
cores) in a fresh worker process, in chunks of the contender's ``chunk``
steps (each chunk resumes from the previous one's checkpoint, so the time
includes checkpoint I/O); after each chunk, with the clock stopped, the
prior is scored and training stops once it meets its bar or its training
time passes ``max_train_s``. "Steps" is thus resolved to one chunk. The
diffusion recipes (``models.diffusion_recipes``) decay the lr to zero on a
cosine over a planned run: the digits UNet plans its length from three timed
probes (``_planned_steps``; probe time counts as training time) and trains
it in three chunks; the moons MLP plans 2000 steps. A run also stops when
its next chunk, timed like the last one, would end past ``max_train_s``. Quality bars:

* flow and diffusion on two moons: classifier two-sample test
  (``models.testing.c2st_accuracy``, 0.5 = indistinguishable), C2ST(1000 draws,
  1000 fresh moons) <= 0.60;
* diffusion on digits: Fréchet distance in digit-classifier features
  (``models.metrics``; images clipped to the pixel range [-1, 1] before
  embedding) of 1000 draws (the recipe's sampler) to the 297 held-out test
  digits <= 0.60, within ``max_train_s`` = 300 s. The same run reports the
  floor (training vs test digits) and two baselines fitted to the training
  digits (a full-covariance Gaussian, a 50-component Gaussian mixture;
  ``digits_reference_scores``), whether the prior beats the mixture (a digits
  prior trains until it is at the bar *and* below the mixture's mean FD), and
  the classifier's histogram of the draws' predicted classes (target: no
  class below half of uniform, i.e. 0.05).
  One draw of 1000 samples gives a noisy FD: over 10 sampling seeds the
  mixture scores 0.621 ± 0.038 (its seed 0 is the lowest: 0.553) and 1000 of
  the training digits themselves 0.515 ± 0.05 (5 subsets); a trained UNet's
  FD moves by up to 0.1 between noise draws, and a draw that is hard for one
  prior is hard for all of them. So a digits prior's score is its mean FD
  over ``fd_seeds`` noise seeds, made from the same numpy standard normals
  for every prior and backend (common random numbers), and it is held
  against the mixture's mean over as many seeds. (Scoring each backend with
  its own RNG once made a torch-trained prior look 0.1 worse than its JAX
  twin on seeds 1-5; over 10 further seeds torch's and numpy's noise gave
  0.684 ± 0.072 and 0.663 ± 0.038, p = 0.41, and three 1500-step runs on the
  same 5 numpy draws scored 0.603 / 0.566 (torch, seeds 0 / 1) and 0.571 (JAX).)
  Measured outside this harness (2 shared cores, load 6-12): with constant lr
  2e-3 and EMA 0.999, the UNet (16, 32) reaches FD 0.710 / 0.649 / 0.591 /
  0.575 / 0.582 after 1000 / 4000 / 6000 / 8000 / 9000 steps (Heun 32, seed
  1) and stalls near a 4-seed mean of 0.61 (DDPM 100; Heun 32 0.660), i.e.
  at the mixture; the UNet (32, 64) of the recipe scores 0.595 / 0.455 /
  0.620 / 0.563 (Heun 32, seeds 1-4, mean 0.558) after only 2500 steps.
  At batch 128 a step takes 128 / 139 ms on JAX (1 / 2 threads) and 138 / 94
  ms on torch; the recipe's batch 64 trains better per second (see
  ``models.diffusion_recipes``). The
  MLP 256x3 stalls near 0.83 (12000 steps, batch 256).

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
    threads: int = 1  # evaluation: torch and XLA intra-op threads (tiny nets are fastest on one)
    train_threads: int = 2  # training: the issue grants the digits prior 2 cores
    train_backends: tuple[str, ...] = ("torch", "jax")  # each trains every prior; the first one's is evaluated
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
    fd_seeds: int = 5  # sampling seeds of the FD mean and sd (one seed's FD varies by about 0.04)
    probe_steps: int = 50  # timed steps (set-up included) that plan a scheduled run's length
    plan_fraction: float = 0.8  # of max_train_s the planned steps may take (the rest: checkpoint I/O, noise)

    @classmethod
    def make(cls, quick: bool) -> "Settings":
        if not quick:
            return cls(quick=False)
        return cls(quick=True, chunk=50, max_steps=100, max_train_s=60.0, ddim_steps=10, n_diffusion=64,
                   n_flow=2000, repeats=2, timeout_s=300.0, fd_seeds=2, digits_samples=200, probe_steps=10,
                   train_threads=1)


# -- contenders (worker side; heavy imports stay inside functions) -----------------------
def _digits_draws(prior: Any, recipe: str, settings: Settings, seed: int = 1) -> Any:
    """``digits_samples`` draws made from numpy's standard normals of ``seed``.

    Common random numbers: every prior, on either backend, turns the same noise
    into draws, so backends and runs are compared draw for draw. One noise draw
    moves the FD of every prior alike (by up to 0.1 for 1000 draws), which
    backend-own noise would add to every difference between priors.
    """
    import numpy as np

    from models.diffusion_recipes import RECIPES

    options = RECIPES[recipe].sample_kwargs()
    shape = prior.noise_shape(settings.digits_samples, **options)
    noise = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return np.asarray(prior.sample_from_noise(prior.backend.asarray(noise), **options))


def _digits_quality(recipe: str) -> Callable[[Any, Settings], dict[str, Any]]:
    def quality(prior: Any, settings: Settings) -> dict[str, Any]:
        """The mean FD over noise seeds 1..fd_seeds (the score), each seed's FD and the class histogram
        of seed 1's draws."""
        import numpy as np

        from models.metrics import digits_class_histogram, digits_frechet_distance

        draws = [_digits_draws(prior, recipe, settings, seed) for seed in range(1, settings.fd_seeds + 1)]
        fds = [digits_frechet_distance(images) for images in draws]
        histogram = digits_class_histogram(draws[0])
        return {"score": float(np.mean(fds)), "class_histogram": [round(float(v), 3) for v in histogram],
                "min_class_fraction": round(float(histogram.min()), 3), "fd_seeds": [round(v, 4) for v in fds],
                "fd_mean": round(float(np.mean(fds)), 4), "fd_sd": round(float(np.std(fds, ddof=1)), 4)}
    return quality


def _moons_quality(recipe: str | None) -> Callable[[Any, Settings], dict[str, Any]]:
    def quality(prior: Any, settings: Settings) -> dict[str, Any]:
        import numpy as np

        from models import two_moons
        from models.diffusion_recipes import RECIPES
        from models.testing import c2st_accuracy

        options = RECIPES[recipe].sample_kwargs() if recipe else {}
        return {"score": c2st_accuracy(np.asarray(prior.sample(1000, seed=1, **options)),
                                       two_moons(1000, np.random.default_rng(1)))}
    return quality


def _digits() -> Any:
    from models import load_digits

    return load_digits("train").images


def _moons() -> Any:
    import numpy as np

    from models import two_moons

    return two_moons(4000, np.random.default_rng(0))


def _train_recipe(recipe: str, data: Callable[[], Any]) -> Callable[..., Any]:
    """Train with a ``models.diffusion_recipes`` recipe whose lr decays to zero at ``planned`` steps."""
    def train(steps: int, chunk: int, ckpt: str | None, planned: int, backend: str) -> Any:
        from models import DiffusionPrior
        from models.diffusion_recipes import RECIPES

        return DiffusionPrior.train(data(), steps=steps, checkpoint_dir=ckpt, checkpoint_every=chunk,
                                    progress=False, backend=backend, **RECIPES[recipe].train_kwargs(planned))
    return train


def _train_flow(steps: int, chunk: int, ckpt: str | None, planned: int, backend: str) -> Any:
    from models import FlowPrior

    return FlowPrior.train(_moons(), steps=steps, batch_size=256, lr=2e-3, coupling="spline", checkpoint_dir=ckpt,
                           checkpoint_every=chunk, progress=False, backend=backend)


@dataclass(frozen=True)
class Contender:
    """A prior on a data set: how to train it, score it, and which bar it must meet."""

    prior: str  # "diffusion" or "flow": picks the evaluation
    description: str
    # (steps, checkpoint_every, checkpoint_dir, planned, backend) -> prior
    train: Callable[[int, int, str | None, int, str], Any]
    # prior -> {"score": the metric (lower is better), other figures reported with the final prior}
    quality: Callable[[Any, Settings], dict[str, Any]]
    metric: str  # what the score measures ("c2st", "fd")
    bar: str  # name of the Settings field holding the bar
    chunk: int  # steps between quality checks: the resolution of "steps to the bar"
    # Length of a run whose lr schedule ends at a fixed step: an int, "budget" (as many steps as a
    # timed probe says fit in plan_fraction of max_train_s) or None (no schedule: max_steps).
    plan: int | str | None = None


CONTENDERS = {
    # Planned in whole 500-step chunks, trained as one (plan="budget").
    "diffusion_digits_unet": Contender("diffusion", "DiffusionPrior EDM, UNet (32, 64), batch 64, cosine lr "
                                       "2e-3 over the planned steps (recipe digits_unet)",
                                       _train_recipe("digits_unet", _digits), _digits_quality("digits_unet"), "fd",
                                       "digits_bar", 500, plan="budget"),
    "diffusion_moons": Contender("diffusion", "DiffusionPrior EDM, MLP 64x2, batch 256, cosine lr 2e-3 over 2000 "
                                 "steps (recipe moons_mlp)", _train_recipe("moons_mlp", _moons),
                                 _moons_quality("moons_mlp"), "c2st", "moons_bar", 500, plan=2000),
    "flow_moons": Contender("flow", "FlowPrior spline, 4 layers x 64, batch 256",
                            _train_flow, _moons_quality(None), "c2st", "moons_bar", 50),
}
EVAL_BACKENDS = {"diffusion": ("torch", "jax", "jax-jit"), "flow": ("torch", "jax")}


def _planned_steps(contender: Contender, chunk: int, settings: Settings, backend: str) -> tuple[int, float]:
    """(steps of the run, seconds spent planning it).

    A budget plan times three throwaway runs of ``probe_steps``, ``probe_steps``
    and three times as many steps, all with the lr schedule of the longest (so
    JAX compiles the step once, in the first probe). The last two differ by the
    cost of 2 ``probe_steps`` steps alone; the first, less its steps, is the
    set-up a run pays once (JAX compilation: the real run's schedule compiles
    anew; data transfer). The run is the whole chunks of steps that fit, after
    one set-up, into ``plan_fraction`` of what is left of ``max_train_s``
    (``train_worker`` then trains it in three chunks). Two probes with their
    own schedules compiled twice, and a compilation that a later probe found
    cached once made JAX's steps look half as dear as they were (19 500
    steps planned for 300 s, 6500 of them took 383 s).
    """
    if not isinstance(contender.plan, str):
        return min(contender.plan or settings.max_steps, settings.max_steps), 0.0
    probe, timings = settings.probe_steps, []
    for steps in (probe, probe, 3 * probe):
        start = time.perf_counter()
        contender.train(steps, steps, None, 3 * probe, backend)
        timings.append(time.perf_counter() - start)
    per_step = max(timings[2] - timings[1], 1e-9) / (2 * probe)
    setup = max(timings[0] - probe * per_step, 0.0)
    budget = settings.plan_fraction * (settings.max_train_s - sum(timings))
    chunks = max(int((budget - setup) // (chunk * per_step)), 1)
    return int(min(chunks * chunk, settings.max_steps)), sum(timings)


def train_worker(name: str, backend: str, settings: Settings, out_dir: str,
                 beat: float | None = None) -> dict[str, Any]:
    """Train in chunks until the bar is met (and the score is below ``beat``, the GMM-50
    baseline's mean FD for the digits) or the planned steps are done; save the prior for the
    evaluation workers. Planning time counts as training time."""
    for module in ("models.diffusion", "models.flow", "models.training"):
        importlib.import_module(module)  # importing is not training: keep it off the clock

    contender, bar = CONTENDERS[name], getattr(settings, CONTENDERS[name].bar)
    chunk = min(settings.chunk or contender.chunk, settings.max_steps)
    planned, plan_s = _planned_steps(contender, chunk, settings, backend)
    if contender.plan == "budget":
        # Three chunks: the probes' estimate can be off by a third (torch's per-step time drifts,
        # JAX's compile time varies), so the run stops before a chunk that would not fit. Equal
        # chunks reuse one JAX compilation.
        chunk = max(planned // 3 // contender.chunk, 1) * contender.chunk
        planned = min(3 * chunk, planned)
    run = f"{name}-{backend}"
    history, prior, train_s = [], None, plan_s
    for steps in sorted({*range(chunk, planned + 1, chunk), planned}):
        start = time.perf_counter()
        prior = contender.train(steps, chunk, os.path.join(out_dir, "runs", run), planned, backend)
        chunk_s = time.perf_counter() - start
        train_s += chunk_s
        scores = contender.quality(prior, settings)
        history.append({"steps": steps, "train_s": round(train_s, 2), "score": round(scores["score"], 4)})
        score = history[-1]["score"]
        if (score <= bar and (beat is None or score < beat)) or train_s + chunk_s > settings.max_train_s:
            break
    prior.save(os.path.join(out_dir, "checkpoints", run))
    last = history[-1]
    reached = last["score"] <= bar and last["train_s"] <= settings.max_train_s
    return {"name": name, "backend": backend, "description": contender.description, "metric": contender.metric, "bar": bar,
            "reached": reached, "planned_steps": planned, "plan_s": round(plan_s, 2), "steps": last["steps"],
            "train_s": last["train_s"], "score": last["score"],
            **{k: v for k, v in scores.items() if k != "score"},
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
    trained = os.path.join(out_dir, "checkpoints", f"{name}-{settings.train_backends[0]}")
    prior = cls.load(trained, backend=backend.split("-")[0])
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
    training = payload["job"] == "train"
    _limit_threads(settings.train_threads if training else settings.threads, payload.get("backend", "torch"))
    if training:
        result = train_worker(payload["name"], payload["backend"], settings, payload["out_dir"], payload.get("beat"))
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
    print(f"[priors]   -> {json.dumps(result)[:1500]}", flush=True)
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


def _digits_reference(settings: Settings) -> dict[str, Any]:
    """FD of the floor and the baselines (numpy / scikit-learn only: fine in the parent).

    ``gmm50`` is seed 0's; ``gmm50_mean`` / ``gmm50_sd`` are over ``fd_seeds`` seeds (mixture fit
    and draws), the match for a digits prior's score (its mean FD over as many noise seeds).
    """
    import numpy as np

    from models.metrics import digits_reference_scores

    runs = [digits_reference_scores(num_samples=settings.digits_samples, mixture_components=50, seed=seed)
            for seed in range(settings.fd_seeds)]
    mixture = [run["gmm50"] for run in runs]
    return {**{k: round(v, 3) for k, v in runs[0].items()}, "gmm50_seeds": [round(v, 4) for v in mixture],
            "gmm50_mean": round(float(np.mean(mixture)), 3), "gmm50_sd": round(float(np.std(mixture, ddof=1)), 3)}


def _versus_mixture(training: list[dict[str, Any]], reference: dict[str, Any]) -> None:
    for row in training:
        if row.get("metric") == "fd" and "score" in row:
            row["beats_gmm50_mean"] = row["score"] < reference["gmm50_mean"]


def markdown(report: dict[str, Any]) -> str:
    train_rows = [[r.get("name"), r.get("backend"), r.get("description", ""), r.get("metric"), r.get("bar"), r.get("reached"),
                   r.get("steps"), r.get("train_s"), _round(r.get("score")), _sd(r),
                   r.get("beats_gmm50_mean", ""), r.get("min_class_fraction", ""),
                   _round(r.get("peak_rss_mb"), 0), r.get("error", "")]
                  for r in report["training"]]
    histograms = [[r["name"], r["backend"], *r["class_histogram"]] for r in report["training"] if "class_histogram" in r]
    reference = report["digits_fd_reference"]
    eval_rows = [[r["name"], r["backend"], r.get("op", ""), r.get("items", ""), r.get("first_call_s", ""),
                  r.get("median_s", ""), r.get("items_per_s", ""), r.get("ratio_vs_torch", ""),
                  _round(r.get("peak_rss_mb"), 0), r.get("error") or ""] for r in report["evaluation"]]
    return "\n\n".join([
        "# Learned priors: training to a quality bar and evaluation, torch vs JAX",
        f"Evaluation uses the prior trained on {report['settings']['train_backends'][0]}.",
        f"Hardware: {report['hardware']['cpu']}, {report['hardware']['cores_usable']} usable cores; "
        f"threads per worker: {report['settings']['train_threads']} training, {report['settings']['threads']} "
        f"evaluation; git {report['git']}.",
        "## Training time to the bar (score <= bar within max_train_s; time excludes scoring)",
        "Metrics: `fd` = Fréchet distance in digit-classifier features of "
        f"{report['settings']['digits_samples']} draws to the test digits (`models.metrics`); "
        "`c2st` = classifier two-sample accuracy. Digits FD references (same metric): "
        f"floor (train vs test digits) {reference['floor']}, full-covariance Gaussian {reference['gaussian']}, "
        f"50-component Gaussian mixture {reference['gmm50']} (seed 0; over {len(reference['gmm50_seeds'])} seeds "
        f"{reference['gmm50_mean']} ± {reference['gmm50_sd']}). One noise draw's FD varies by 0.04-0.07, so a "
        "digits prior's `score` is its mean FD over the same seeds (sd over seeds next to it), each seed's "
        "standard normals shared by every prior and backend, and is held against the mixture's mean.",
        common.markdown_table(["prior", "trained on", "setup", "metric", "bar", "reached", "steps", "train s", "score",
                               "FD sd over seeds", "beats GMM-50 mean", "min class frac",
                               "peak RSS MiB", "error"], train_rows),
        "## Predicted-class histogram of the digit draws (target: every class >= 0.05)",
        common.markdown_table(["prior", "trained on", *map(str, range(10))], histograms),
        "## Evaluation throughput (median of repeats after a warm-up call)",
        common.markdown_table(["prior", "backend", "op", "items", "first call s", "median s", "items/s",
                               "x torch", "peak RSS MiB", "error"], eval_rows),
        f"Settings: `{json.dumps(report['settings'])}`",
    ]) + "\n"


def _sd(row: dict[str, Any]) -> str:
    return f"{row['fd_sd']:.3f}" if "fd_sd" in row else ""


def _round(value: Any, digits: int = 3) -> Any:
    return round(value, digits) if isinstance(value, float) else value


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke-run sizes")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {sorted(CONTENDERS)}")
    parser.add_argument("--out", default=str(common.REPO_ROOT / "benchmarks" / "results"))
    parser.add_argument("--train-threads", type=int, help="torch threads of the training workers (default: "
                        "1 with --quick, else 2)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: JSON payload of one job
    args = parser.parse_args(argv)
    if args.worker:
        worker_main(json.loads(args.worker))
        return {}
    settings = Settings.make(args.quick)
    if args.train_threads:
        settings = dataclasses.replace(settings, train_threads=args.train_threads)
    names = [n for n in CONTENDERS if not args.only or n in args.only.split(",")]
    reference = _digits_reference(settings)  # the digits priors train until they beat the mixture too
    with tempfile.TemporaryDirectory(prefix="bench-priors-") as work:
        training = [{"name": n, "backend": b, **_run("train", settings, work, name=n, backend=b,
                                                     beat=reference["gmm50_mean"] if CONTENDERS[n].metric == "fd" else None)}
                    for n in names for b in settings.train_backends]
        evaluated = {t["name"] for t in training if t["backend"] == settings.train_backends[0] and "error" not in t}
        evaluation = [row for n in names if n in evaluated for row in _eval_rows(n, settings, work)]
    report = {"benchmark": "priors", "settings": dataclasses.asdict(settings), "hardware": common.hardware(),
              "libraries": common.library_versions(LIBRARIES), "git": common.git_revision(),
              "digits_fd_reference": reference, "training": training, "evaluation": evaluation}
    _versus_mixture(training, report["digits_fd_reference"])
    out = Path(args.out)
    suffix = "_quick" if args.quick else ""
    common.write_results(out, f"priors{suffix}", report, markdown(report), echo=False)
    print(markdown(report))
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
