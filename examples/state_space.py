"""A linear-Gaussian state-space model: particle filters vs the Kalman filter, then PMMH.

The model, written with ``ppl.markov``::

    x_init ~ Normal(0, 1);  x_t = 0.9 x_{t-1} + q eps_t;  y_t = x_t + r nu_t

The bootstrap and locally-optimal particle filters at the true (q, r) are
compared with the exact Kalman filter (log-likelihood and filtering means);
then the static parameters are sampled with particle-marginal
Metropolis-Hastings (``--method pmmh``, the default) or NUTS through the
backend's scan (``--method nuts``, either backend). A PNG plot is written to
``--out`` (default ``results/state_space``).

Run::

    PYTHONPATH=. python examples/state_space.py --steps 100 --particles 500
"""
from __future__ import annotations

import os
import sys
from typing import Sequence

import numpy as np

import ppl

from _common import make_parser, print_header, save_figure, write_json
from ppl.testing import lgssm

PHI = 0.9



def simulate(T: int, q: float, r: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """True states and observations (T,) of the model at (q, r)."""
    rng = np.random.default_rng(seed)
    x, xs = rng.normal(), []
    for _ in range(T):
        x = PHI * x + q * rng.normal()
        xs.append(x)
    xs = np.array(xs)
    return xs, xs + r * rng.normal(size=T)


def filter_report(model: ppl.Model, y: np.ndarray, q: float, r: float, particles: int,
                  seed: int) -> dict:
    """Log-likelihoods and filtering-mean errors of each filter against Kalman."""
    from inference.filtering import kalman_filter

    kf = kalman_filter(y, [[PHI]], [[q ** 2]], [[1.0]], [[r ** 2]], [0.0], [[1.0]])
    out = {"kalman": {"log_likelihood": kf.log_likelihood, "means": kf.means[:, 0],
                      "sd": np.sqrt(kf.covs[:, 0, 0])}}
    for proposal in ("bootstrap", "optimal"):
        res = ppl.filter(model, params={"q": q, "r": r}, num_particles=particles,
                         proposal=proposal, seed=seed)
        out[proposal] = {"log_likelihood": res.log_likelihood, "means": res.filtering_mean,
                         "max_mean_error": float(np.abs(res.filtering_mean - kf.means[:, 0]).max()),
                         "mean_ess": float(res.ess.mean())}
    return out


def plot(path: str, x: np.ndarray, y: np.ndarray, report: dict, post: object) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4), gridspec_kw={"width_ratios": [2, 1]})
    t = np.arange(len(y))
    kf = report["kalman"]
    ax.plot(t, x, "k-", lw=1, label="true state")
    ax.plot(t, y, ".", color="gray", ms=3, label="observations")
    ax.fill_between(t, kf["means"] - 2 * kf["sd"], kf["means"] + 2 * kf["sd"], alpha=0.2,
                    label="Kalman ±2 sd")
    ax.plot(t, report["bootstrap"]["means"], "C1--", lw=1, label="bootstrap PF mean")
    ax.plot(t, report["optimal"]["means"], "C2:", lw=1.5, label="optimal-proposal PF mean")
    ax.set(xlabel="time", title="filtering means")
    ax.legend(fontsize=7)
    ax2.scatter(post["q"].ravel(), post["r"].ravel(), s=2, alpha=0.3)
    ax2.set(xlabel="q", ylabel="r", title=f"posterior ({post.method})")
    return save_figure(fig, path)


def main(argv: Sequence[str] | None = None) -> dict:
    parser = make_parser(__doc__.splitlines()[0], chains=2, warmup=300, draws=500,
                         out="results/state_space")
    parser.add_argument("--steps", type=int, default=100, help="time steps T (%(default)s)")
    parser.add_argument("--particles", type=int, default=500, help="particles (%(default)s)")
    parser.add_argument("--method", choices=("pmmh", "nuts"), default="pmmh")
    parser.add_argument("--q", type=float, default=0.5, help="true state noise (%(default)s)")
    parser.add_argument("--r", type=float, default=0.3, help="true obs noise (%(default)s)")
    args = parser.parse_args(argv)
    x, y = simulate(args.steps, args.q, args.r, args.seed)
    model = lgssm(args.steps, phi=PHI).observe(y=y)
    report = filter_report(model, y, args.q, args.r, args.particles, args.seed)
    print_header("particle filters at the true (q, r) vs Kalman")
    for name in ("kalman", "bootstrap", "optimal"):
        extra = "" if name == "kalman" else (
            f"  max |mean - KF| {report[name]['max_mean_error']:.3f}"
            f"  mean ESS {report[name]['mean_ess']:.0f}")
        print(f"{name:>10}: log-likelihood {report[name]['log_likelihood']:9.3f}{extra}")
    options = dict(chains=args.chains, warmup=args.warmup, draws=args.draws, seed=args.seed)
    if args.method == "pmmh":
        post = ppl.infer(model, method="pmmh", backend=args.backend,
                         num_particles=min(args.particles, 200), **options)
    else:
        post = ppl.infer(model, method="nuts", backend=args.backend, progress=args.progress,
                         **options)
    print_header(f"posterior of the static parameters ({args.method}, {args.backend})")
    for name, truth in (("q", args.q), ("r", args.r)):
        print(f"  {name}: mean {post[name].mean():.3f}  sd {post[name].std():.3f}  (true {truth})")
    summary = {k: {kk: vv for kk, vv in v.items() if kk not in ("means", "sd")}
               for k, v in report.items()}
    summary["posterior"] = {n: {"mean": float(post[n].mean()), "sd": float(post[n].std())}
                            for n in ("q", "r")}
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        print("wrote", plot(os.path.join(args.out, "state_space.png"), x, y, report, post))
        print("wrote", write_json(os.path.join(args.out, "summary.json"), summary))
    return summary


if __name__ == "__main__":
    main(sys.argv[1:])
