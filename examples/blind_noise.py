"""Blind inverse problem: the observation noise sigma is unknown and inferred with the digit.

The model puts a prior on sigma and lets the SMC diffusion samplers infer x and
sigma jointly (they move sigma by Metropolis-Hastings between denoising steps)::

    x = ppl.sample("x", prior.as_distribution())
    sigma = ppl.sample("sigma", dist.HalfNormal(0.3))
    ppl.sample("y", dist.Normal(op(x), sigma))

For ``--digits`` test digits observed through a task of
``examples/inverse_problems.py`` with a true sigma of ``--sigma-true``, it
reports each digit's posterior mean and 90% interval of sigma, how often the
interval holds the true value, and the PSNR of the posterior mean of x. Writes
``blind_noise.{json,md}`` and ``blind_noise_sigma.png`` (sigma's posterior per
digit against the truth) under ``--out``.

Run::

    PYTHONPATH=. python examples/blind_noise.py --checkpoint PATH --digits 20
"""
from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from _common import make_parser, print_header, save_figure, use_agg, write_json, write_text
from inverse_problems import (SHAPE, _tasks, inverse_model, load_or_train_prior, observe, psnr)


def sigma_prior(scale: float) -> Any:
    """A callable that declares the latent noise site inside the model."""
    def site():
        import ppl
        from ppl import dist

        return ppl.sample("sigma", dist.HalfNormal(scale))

    return site


def interval(draws: np.ndarray, level: float = 0.9) -> tuple[float, float]:
    """Equal-tailed ``level`` interval of 1-D draws."""
    tail = (1 - level) / 2
    lo, hi = np.quantile(draws, [tail, 1 - tail])
    return float(lo), float(hi)


def run_digit(i: int, truth: np.ndarray, prior_dist: Any, method: str, args: Any) -> dict[str, Any]:
    import ppl

    op = _tasks()[args.task].make(i)
    y = observe(truth, op, args.sigma_true, seed=1000 + i)
    model = inverse_model(prior_dist, op, sigma_prior(args.sigma_scale))
    post = ppl.infer(model.observe(y=y), method=method, backend=args.backend, num_steps=args.num_steps,
                     draws=args.draws, seed=args.seed + i, progress=args.progress)
    sigma = np.asarray(post.samples["sigma"], dtype=np.float64).reshape(-1)
    lo, hi = interval(sigma)
    x_mean = np.asarray(post.samples["x"]).reshape(-1, *SHAPE).mean(0)
    return {"digit": i, "sigma_mean": float(sigma.mean()), "sigma_sd": float(sigma.std()), "sigma_lo": lo,
            "sigma_hi": hi,
            "covers": bool(lo <= args.sigma_true <= hi), "psnr": psnr(x_mean, truth), "sigma_draws": sigma}


def plot_sigma(per_method: dict[str, list[dict[str, Any]]], truth: float) -> Any:
    """Per digit: sigma's posterior mean and 90% interval, one panel per method; the truth dashed."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(per_method), figsize=(4 * len(per_method), 3), squeeze=False)
    for ax, (method, rows) in zip(axes[0], per_method.items()):
        idx = np.arange(len(rows))
        mean = np.array([r["sigma_mean"] for r in rows])
        err = np.array([[r["sigma_mean"] - r["sigma_lo"] for r in rows], [r["sigma_hi"] - r["sigma_mean"] for r in rows]])
        ax.errorbar(idx, mean, yerr=err, fmt="o", ms=3)
        ax.axhline(truth, ls="--", color="k", label="true sigma")
        ax.set(title=method, xlabel="digit", ylabel="sigma")
        ax.legend(fontsize=7)
    return fig


def parse_args(argv: Sequence[str] | None):
    p = make_parser(__doc__.split("\n")[0], draws=128, out=os.path.join("outputs", "blind_noise"))
    p.add_argument("--checkpoint", help="a saved DiffusionPrior (default: train one, cached under --out)")
    p.add_argument("--train-steps", type=int, default=20_000, help="training steps of the prior (%(default)s)")
    p.add_argument("--digits", type=int, default=20, help="test digits (%(default)s)")
    p.add_argument("--task", default="inpaint-random", help="an inverse_problems task (%(default)s)")
    p.add_argument("--methods", default="tds,mcgdiff", help="comma-separated SMC methods (%(default)s)")
    p.add_argument("--num-steps", type=int, default=100, help="denoising steps (%(default)s)")
    p.add_argument("--sigma-true", type=float, default=0.1, help="noise sd that made y (%(default)s)")
    p.add_argument("--sigma-scale", type=float, default=0.3, help="HalfNormal scale of sigma's prior (%(default)s)")
    return p.parse_args(argv)


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"digits": len(rows), "coverage_90": float(np.mean([r["covers"] for r in rows])),
            "sigma_mean": float(np.mean([r["sigma_mean"] for r in rows])),
            "psnr": float(np.mean([r["psnr"] for r in rows]))}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    import inference  # noqa: F401 - registers the diffusion methods
    from models import load_digits

    use_agg()
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    prior_dist = load_or_train_prior(args.checkpoint, args.out, args.train_steps, args.seed).as_distribution()
    digits, per_method = load_digits("test").images[: args.digits], {}
    for method in args.methods.split(","):
        print_header(f"{args.task} / {method}, true sigma {args.sigma_true}")
        per_method[method] = [run_digit(i, truth, prior_dist, method, args) for i, truth in enumerate(digits)]
        print(summarize(per_method[method]))
    summary = {m: summarize(rows) for m, rows in per_method.items()}
    lines = ["| method | digits | sigma 90% interval holds the truth | mean posterior sigma | PSNR (dB) |",
             "| --- | --- | --- | --- | --- |"]
    lines += [f"| {m} | {s['digits']} | {s['coverage_90']:.2f} | {s['sigma_mean']:.4f} | {s['psnr']:.2f} |"
              for m, s in summary.items()]
    text = f"# Blind noise: {args.task}, true sigma {args.sigma_true}\n\n" + "\n".join(lines) + "\n"
    write_text(os.path.join(args.out, "blind_noise.md"), text)
    write_json(os.path.join(args.out, "blind_noise.json"), {"settings": vars(args), "summary": summary, "digits": {
        m: [{k: v for k, v in r.items() if k != "sigma_draws"} for r in rows] for m, rows in per_method.items()}})
    save_figure(plot_sigma(per_method, args.sigma_true), os.path.join(args.out, "blind_noise_sigma.png"))
    print(text)
    return {"summary": summary, "digits": per_method, "args": args}


if __name__ == "__main__":
    main()
