"""Digits inverse problems with a diffusion prior: inpainting, deblurring, 2x super-resolution.

A diffusion prior trained on scikit-learn's 8x8 digits (or loaded with
``--checkpoint``) is the prior of x; each task observes y = A x + 0.05 eps with a
linear operator from ``ppl.linops``::

    x = ppl.sample("x", prior.as_distribution())
    ppl.sample("y", dist.Normal(op(x), 0.05))

and every method (dps, pigdm, ddrm, repaint for the inpainting tasks, tds,
mcgdiff) samples p(x | y) for ``--digits`` test digits. Reported per task and
method: PSNR of the posterior mean (and of a plain reconstruction from y, the
baseline), empirical coverage of the per-pixel 90% credible intervals on the
pixels not observed directly (all pixels for deblurring and super-resolution),
seconds per digit. Writes PNG grids (truth, observation, posterior mean,
posterior sd, samples) and ``summary.{json,md}`` under ``--out``.

Run::

    PYTHONPATH=. python examples/inverse_problems.py                       # trains a prior first
    PYTHONPATH=. python examples/inverse_problems.py --checkpoint PATH --digits 20 --methods pigdm,tds

The digits of a (task, method) are solved together: their runs go through
``inference.diffusion.driver.run_batched``, which vmaps the compiled calls of
all digits into one (``--no-batch``: one digit after the other; the draws are
the same). TDS and MCGdiff split their ``--draws`` into ``--smc-chains``
independent runs of ``--smc-particles`` particles (per method), pooled (see :func:`draw_settings`).
"""
from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from _common import make_parser, print_header, save_figure, use_agg, write_json, write_text

SHAPE = (1, 8, 8)  # one channel of 8x8 digits, as models.load_digits returns them
DATA_RANGE = 2.0   # pixels lie in [-1, 1]
METHODS = ("dps", "pigdm", "ddrm", "repaint", "tds", "mcgdiff")


@dataclass(frozen=True)
class Task:
    """An observation operator for one digit and a plain reconstruction from y.

    Attributes:
        make: (digit index) -> LinearOperator on SHAPE (a random mask differs per digit).
        baseline: (operator, y) -> image of SHAPE: zero-fill, the blurred image, nearest upsampling.
        inpainting: whether the operator observes some pixels directly (a mask).
    """

    make: Callable[[int], Any]
    baseline: Callable[[Any, np.ndarray], np.ndarray]
    inpainting: bool


def _zero_fill(op, y):
    return np.asarray(op.adjoint_apply(y, np))


def _nearest(op, y):
    return np.repeat(np.repeat(np.reshape(y, (1, 4, 4)), 2, axis=-1), 2, axis=-2)


def _tasks() -> dict[str, Task]:
    from ppl import linops

    return {"inpaint-random": Task(lambda i: linops.random_mask(SHAPE, 0.5, seed=i), _zero_fill, True),
            "inpaint-box": Task(lambda i: linops.box_mask(SHAPE, (2, 6, 2, 6)), _zero_fill, True),
            "deblur": Task(lambda i: linops.GaussianBlur(SHAPE, sigma=1.0, size=5),
                           lambda op, y: np.reshape(y, SHAPE), False),
            "sr2": Task(lambda i: linops.Downsample(SHAPE, 2), _nearest, False)}


TASKS = ("inpaint-random", "inpaint-box", "deblur", "sr2")


# -- metrics -------------------------------------------------------------------------
def psnr(estimate: np.ndarray, truth: np.ndarray, data_range: float = DATA_RANGE) -> float:
    """Peak signal-to-noise ratio in dB: 10 log10(range^2 / MSE)."""
    mse = float(np.mean((np.asarray(estimate) - np.asarray(truth)) ** 2))
    return float(10 * np.log10(data_range**2 / mse))


def coverage_counts(samples: np.ndarray, truth: np.ndarray, pixels: np.ndarray,
                    level: float = 0.9) -> tuple[int, int]:
    """(covered, total) of the pixels whose equal-tailed ``level`` interval holds the truth.

    Args:
        samples: posterior draws, shape (n, *image_shape).
        truth: the true image, shape image_shape.
        pixels: boolean, shape image_shape: which pixels count.
    """
    tail = (1 - level) / 2
    lo, hi = np.quantile(samples, [tail, 1 - tail], axis=0)
    inside = (truth >= lo) & (truth <= hi)
    return int(np.sum(inside & pixels)), int(np.sum(pixels))


def unobserved_pixels(op: Any, inpainting: bool) -> np.ndarray:
    """Pixels not observed directly: the masked-out ones for a mask, all pixels otherwise."""
    return ~np.asarray(op.mask, dtype=bool) if inpainting else np.ones(SHAPE, dtype=bool)


# -- the prior ---------------------------------------------------------------------------
def load_or_train_prior(checkpoint: str | None, out: str, steps: int, seed: int = 0) -> Any:
    """A digits DiffusionPrior: ``checkpoint`` if given, else a cached or freshly trained one.

    Training uses the settings of ``examples/train_priors.py`` (EDM, MLP 256, lr 2e-3,
    batch 128): the MLP is 15x cheaper per evaluation than the UNet, which matters
    for samplers that call the denoiser hundreds of times per digit. The trained
    prior is saved under ``out/prior_mlp_{steps}`` and reused by later runs.
    """
    from models import DiffusionPrior, MLPConfig, load_digits

    if checkpoint:
        return DiffusionPrior.load(checkpoint)
    path = os.path.join(out, f"prior_mlp_{steps}")
    if os.path.isdir(path):
        return DiffusionPrior.load(path)
    images = load_digits("train").images
    prior = DiffusionPrior.train(images, steps=steps, formulation="edm", lr=2e-3, batch_size=128, seed=seed,
                                 net=MLPConfig(data_dim=int(np.prod(SHAPE)), hidden_dim=256), progress=False,
                                 checkpoint_dir=os.path.join(out, "runs", f"prior_mlp_{steps}"))
    prior.save(path)
    return prior


# -- one digit ------------------------------------------------------------------------------
def inverse_model(prior_dist: Any, op: Any, sigma_y: Any) -> Any:
    """x ~ prior, y ~ Normal(op(x), sigma_y); ``sigma_y`` a float or a callable making a latent site."""
    import ppl
    from ppl import dist

    @ppl.model
    def inverse_problem():
        x = ppl.sample("x", prior_dist)
        noise = sigma_y() if callable(sigma_y) else sigma_y
        ppl.sample("y", dist.Normal(op(x), noise))

    return inverse_problem()


def draw_settings(method: str, args: Any) -> dict[str, int]:
    """``ppl.infer`` sizes of a method: ``args.draws`` draws per digit.

    TDS and MCGdiff split them into ``args.smc_chains`` independent runs, pooled
    in equal shares, each of ``args.smc_particles[method]`` particles handing
    ``draws / chains`` picks. Why runs and not one: one run's particles descend
    from a few ancestors (its resampling collapses the genealogy), so 128
    particles of one run covered 55-75% of the hidden pixels with 90% intervals
    where 16 pooled runs of 8 covered ~89% (MCGdiff, inpaint-random, 6 digits).
    Why equal shares and not ``populations`` (pooled by evidence, as the
    mixture benchmark does): with 32 pixels observed at sigma_y = 0.05 the runs'
    evidences differ by many nats, so evidence weights hand nearly every draw
    to one run and coverage fell to 0.3-0.66 (16 x 32 particles, 10 digits).
    Why MCGdiff gets 4x TDS's particles by default: it needs no denoiser
    gradient, so 128 particles cost it 1.7x what 32 cost TDS, and at 32 its
    posterior mean trailed DPS's (inpaint-random, 100 digits: 21.46 dB at 32,
    21.89 at 128, DPS 21.87).
    """
    particles = args.smc_particles.get(method)
    if particles is None:
        return {"chains": 1, "draws": args.draws}
    chains = max(1, min(args.smc_chains, args.draws))
    draws = max(1, args.draws // chains)
    return {"chains": chains, "draws": draws, "particles": max(draws, particles or draws)}


def solve(model: Any, y: np.ndarray, method: str, args: Any) -> Any:
    """Posterior of x given y; raises if the method gave non-finite draws."""
    import ppl

    post = ppl.infer(model.observe(y=y), method=method, backend=args.backend, num_steps=args.num_steps,
                     seed=args.seed, progress=args.progress, **draw_settings(method, args))
    if not np.all(np.isfinite(post.samples["x"])):
        raise FloatingPointError(f"{method} returned non-finite draws")
    return post


def observe(truth: np.ndarray, op: Any, sigma_y: float, seed: int) -> np.ndarray:
    """y = A x + sigma_y eps for one digit, with its own noise seed."""
    clean = np.asarray(op.apply(truth, np))
    return clean + sigma_y * np.random.default_rng(seed).standard_normal(clean.shape)


def posteriors(task: Task, method: str, prior_dist: Any, digits: np.ndarray, args: Any) -> tuple[list, float]:
    """(posterior of every digit, seconds per digit) for one (task, method).

    With ``args.batch`` (JAX) the digits' runs share every compiled call
    (``inference.diffusion.driver.run_batched``): one vmapped call over the
    digits per step instead of one small call per digit.
    """
    from inference.diffusion.driver import run_batched

    def job(i: int, truth: np.ndarray) -> Callable[[], Any]:
        op = task.make(i)
        y = observe(truth, op, args.sigma_y, seed=1000 + i)
        return lambda: solve(inverse_model(prior_dist, op, args.sigma_y), y, method, args)

    jobs = [job(i, truth) for i, truth in enumerate(digits)]
    start = time.perf_counter()
    posts = run_batched(jobs, args.backend) if args.batch else [run() for run in jobs]
    return posts, (time.perf_counter() - start) / len(jobs)


def run_method(task: Task, method: str, prior_dist: Any, digits: np.ndarray, args: Any) -> dict[str, Any]:
    """Every digit through one (task, method): PSNRs, coverage counts, draws of the first few."""
    out = {"psnr": [], "baseline_psnr": [], "covered": 0, "pixels": 0, "seconds": [], "nfe": None, "shown": []}
    posts, seconds = posteriors(task, method, prior_dist, digits, args)
    for i, (truth, post) in enumerate(zip(digits, posts)):
        op = task.make(i)
        y = observe(truth, op, args.sigma_y, seed=1000 + i)
        out["seconds"].append(seconds)
        draws = np.asarray(post.samples["x"]).reshape(-1, *SHAPE)
        baseline = task.baseline(op, y)
        out["psnr"].append(psnr(draws.mean(0), truth))
        out["baseline_psnr"].append(psnr(baseline, truth))
        covered, total = coverage_counts(draws, truth, unobserved_pixels(op, task.inpainting))
        out["covered"], out["pixels"] = out["covered"] + covered, out["pixels"] + total
        out["nfe"] = post.extras.get("nfe")
        if i < args.show:
            out["shown"].append((truth, baseline, draws))
    return out


# -- reporting -----------------------------------------------------------------------------
def plot_grid(shown: Sequence[tuple], title: str, samples: int = 4) -> Any:
    """Rows: digits; columns: truth, observation, posterior mean, posterior sd, a few draws."""
    import matplotlib.pyplot as plt

    cols = 4 + samples
    fig, axes = plt.subplots(len(shown), cols, figsize=(1.2 * cols, 1.3 * len(shown)), squeeze=False)
    for row, (truth, baseline, draws) in zip(axes, shown):
        panels = [truth, baseline, draws.mean(0), draws.std(0), *draws[:samples]]
        for j, (ax, image) in enumerate(zip(row, panels)):
            sd = j == 3
            ax.imshow(image.reshape(8, 8), cmap="viridis" if sd else "gray_r",
                      vmin=0 if sd else -1, vmax=float(image.max()) if sd else 1)
            ax.axis("off")
    for ax, name in zip(axes[0], ["truth", "observation", "mean", "sd"] + [f"draw {k}" for k in range(samples)]):
        ax.set_title(name, fontsize=7)
    fig.suptitle(title, fontsize=9)
    return fig


def summary_row(task: str, method: str, res: dict[str, Any]) -> dict[str, Any]:
    n = len(res["psnr"])
    gain = np.subtract(res["psnr"], res["baseline_psnr"])
    return {"task": task, "method": method, "digits": n, "psnr": float(np.mean(res["psnr"])),
            "psnr_se": float(np.std(res["psnr"], ddof=1) / np.sqrt(n)) if n > 1 else float("nan"),
            "baseline_psnr": float(np.mean(res["baseline_psnr"])), "psnr_gain": float(gain.mean()),
            "psnr_gain_se": float(gain.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan"),
            "coverage_90": res["covered"] / res["pixels"], "pixels": res["pixels"],
            "seconds_per_digit": float(np.mean(res["seconds"])), "nfe": res["nfe"]}


def markdown(rows: list[dict[str, Any]], args: Any) -> str:
    lines = ["| task | method | digits | PSNR (dB) | baseline PSNR | 90% coverage | s / digit | NFE |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['task']} | {r['method']} | — | {r['error']} | | | | |")
            continue
        lines.append(f"| {r['task']} | {r['method']} | {r['digits']} | {r['psnr']:.2f} ± {r['psnr_se']:.2f} | "
                     f"{r['baseline_psnr']:.2f} | {r['coverage_90']:.3f} | {r['seconds_per_digit']:.2f} | {r['nfe']} |")
    prior = (args.checkpoint or f"EDM MLP 256 trained {args.train_steps} steps") + (
        "; true images drawn from the prior" if args.truth == "prior" else "; true images: test digits")
    smc = {m: draw_settings(m, args) for m in args.smc_particles}
    runs = ", ".join(f"{m} {d['chains']} runs of {d['particles']} particles" for m, d in smc.items())
    return (f"# Digits inverse problems (sigma_y = {args.sigma_y}, {args.num_steps} steps, {args.draws} draws, "
            f"backend {args.backend})\n\nPrior: {prior}. SMC samplers per digit: {runs}, "
            "pooled in equal shares. Total "
            f"{sum(r.get('seconds_per_digit', 0.0) * r.get('digits', 0) for r in rows):.0f} s "
            f"({'batched' if args.batch else 'one digit at a time'}).\n\n" + "\n".join(lines)
            + "\n\nBaseline: zero-filled observation (inpainting), the blurred image (deblur), nearest upsampling "
            "(sr2). Coverage: share of pixels not observed directly (all pixels for deblur and sr2) whose 90% "
            "equal-tailed posterior interval holds the true value.\n")


SMC_PARTICLES = "tds=32,mcgdiff=128"


def _particles(text: str) -> dict[str, int]:
    """``--smc-particles`` as {method: particles}, the defaults for a method it leaves out
    (argparse reports a bad value with its message)."""
    from inference.diffusion.particles import parse_particles
    from ppl.errors import ParameterError

    try:
        return {**parse_particles(SMC_PARTICLES), **parse_particles(text)}
    except ParameterError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def parse_args(argv: Sequence[str] | None):
    p = make_parser(__doc__.split("\n")[0], draws=128, out=os.path.join("outputs", "inverse_problems"))
    p.add_argument("--checkpoint", help="a saved DiffusionPrior (default: train one, cached under --out)")
    p.add_argument("--train-steps", type=int, default=20_000, help="training steps of the prior (%(default)s)")
    p.add_argument("--digits", type=int, default=100, help="test digits per task (%(default)s)")
    p.add_argument("--truth", choices=("test", "prior"), default="test",
                   help="true images: scikit-learn's test digits, or draws of the prior itself, on which "
                        "exact samplers are calibrated (%(default)s)")
    p.add_argument("--tasks", default=",".join(TASKS), help="comma-separated, from " + ", ".join(TASKS))
    p.add_argument("--methods", default=",".join(METHODS), help="comma-separated methods (%(default)s)")
    p.add_argument("--num-steps", type=int, default=100, help="denoising steps (%(default)s)")
    p.add_argument("--sigma-y", type=float, default=0.05, help="observation noise sd (%(default)s)")
    p.add_argument("--show", type=int, default=4, help="digits drawn in each PNG grid (%(default)s)")
    p.add_argument("--smc-chains", type=int, default=16,
                   help="independent runs the --draws of tds and mcgdiff are split into (%(default)s)")
    p.add_argument("--smc-particles", type=_particles, default=SMC_PARTICLES,
                   help="particles of each tds and mcgdiff run, per method or one number for both; "
                        f"each run hands --draws / --smc-chains of them ({SMC_PARTICLES})")
    p.add_argument("--no-batch", dest="batch", action="store_false",
                   help="solve the digits one by one (default: batched, their compiled calls vmapped together)")
    return p.parse_args(argv)


def true_images(args: Any, prior: Any) -> np.ndarray:
    """The digits to recover, shape (args.digits, *SHAPE): scikit-learn's test digits, or prior draws.

    ``--truth prior`` draws them from the diffusion prior itself: then an exact
    posterior sampler covers 90% of the hidden pixels with its 90% intervals
    whatever the prior's fit to real digits, so comparing the two truths tells
    a sampler's miscalibration from the learned prior's.
    """
    from models import load_digits

    if args.truth == "test":
        return load_digits("test").images[: args.digits]
    draws = np.asarray(prior.sample(args.digits, seed=args.seed + 12345), dtype=np.float64)
    return draws.reshape(args.digits, *SHAPE)


def run_all(args: Any, prior: Any) -> list[dict[str, Any]]:
    prior_dist = prior.as_distribution()
    digits, tasks, rows = true_images(args, prior), _tasks(), []
    for task_name in args.tasks.split(","):
        task = tasks[task_name]
        for method in args.methods.split(","):
            if method == "repaint" and not task.inpainting:
                rows.append({"task": task_name, "method": method, "error": "skipped: RePaint is for inpainting"})
                continue
            print_header(f"{task_name} / {method}")
            try:
                res = run_method(task, method, prior_dist, digits, args)
            except Exception as exc:  # a method that fails must not hide the others' results
                rows.append({"task": task_name, "method": method, "error": f"{type(exc).__name__}: {exc}"[:200]})
                print(rows[-1]["error"])
                continue
            rows.append(summary_row(task_name, method, res))
            print({k: rows[-1][k] for k in ("psnr", "baseline_psnr", "coverage_90", "seconds_per_digit")})
            if res["shown"]:
                save_figure(plot_grid(res["shown"], f"{task_name} / {method}"),
                            os.path.join(args.out, f"{task_name}_{method}.png"))
    return rows


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    import inference  # noqa: F401 - registers the diffusion methods

    use_agg()
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    prior = load_or_train_prior(args.checkpoint, args.out, args.train_steps, args.seed)
    rows = run_all(args, prior)
    write_json(os.path.join(args.out, "summary.json"), {"settings": vars(args), "rows": rows})
    write_text(os.path.join(args.out, "summary.md"), markdown(rows, args))
    print(markdown(rows, args))
    return {"rows": rows, "args": args}


if __name__ == "__main__":
    main()
