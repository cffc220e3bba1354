"""Bayesian linear regression on synthetic data, with known and with unknown noise.

    y = alpha + X @ beta + eps,    eps ~ Normal(0, sigma)

With sigma known the posterior of (alpha, beta) is Gaussian in closed form,
so the example prints the exact posterior next to the MCMC estimate; with
sigma unknown it is sampled too (HalfNormal prior). Both print the posterior
against the coefficients that generated the data.

Run::

    PYTHONPATH=. python examples/linear_regression.py --backend pyro --noise both
"""
from __future__ import annotations

import os
import sys
from typing import Sequence

import numpy as np

import ppl
from ppl import dist

from _common import make_parser, num_divergences, print_header, run_nuts, summarize, write_csv

DATA_SEED = 20240611
TRUE_ALPHA = 1.0
TRUE_BETA = np.array([1.5, -2.0, 0.5])
TRUE_SIGMA = 0.7
PRIOR_SCALE = 5.0  # of alpha and each beta


@ppl.model
def linear_regression(X, sigma=None):
    alpha = ppl.sample("alpha", dist.Normal(0.0, PRIOR_SCALE))
    beta = ppl.sample("beta", dist.Normal(0.0, PRIOR_SCALE).expand((X.shape[1],)).to_event(1))
    if sigma is None:  # unknown noise: a latent site; known noise: a constant
        sigma = ppl.sample("sigma", dist.HalfNormal(2.0))
    with ppl.plate("obs", X.shape[0]):
        ppl.sample("y", dist.Normal(alpha + X @ beta, sigma))


def make_data(num_obs: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic (X, y) from the true coefficients, with a fixed seed.

    Returns:
        X of shape (num_obs, 3) and y of shape (num_obs,).
    """
    rng = np.random.default_rng(DATA_SEED)
    X = rng.normal(size=(num_obs, TRUE_BETA.size))
    y = TRUE_ALPHA + X @ TRUE_BETA + TRUE_SIGMA * rng.normal(size=num_obs)
    return X, y


def exact_posterior(X: np.ndarray, y: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sd of (alpha, beta_1..D) given known sigma (conjugate Gaussian).

    Returns:
        (mean, sd), each of shape (D + 1,), alpha first.
    """
    Z = np.column_stack([np.ones(len(X)), X])
    precision = Z.T @ Z / sigma**2 + np.eye(Z.shape[1]) / PRIOR_SCALE**2
    cov = np.linalg.inv(precision)
    return cov @ Z.T @ y / sigma**2, np.sqrt(np.diag(cov))


def coefficient_table(summary, truth: dict[str, float], exact: np.ndarray | None) -> str:
    """Posterior mean and sd against the truth (and the exact posterior mean)."""
    header = f"{'param':<9}{'true':>8}{'mean':>8}{'sd':>7}{'z':>7}"
    lines = [header + (f"{'exact':>8}" if exact is not None else "")]
    for k, (name, value) in enumerate(truth.items()):
        row = summary.loc[name]
        z = (row["mean"] - value) / row["sd"]
        line = f"{name:<9}{value:>8.3f}{row['mean']:>8.3f}{row['sd']:>7.3f}{z:>7.2f}"
        if exact is not None and k < len(exact):
            line += f"{exact[k]:>8.3f}"
        lines.append(line)
    return "\n".join(lines)


def truth_by_name(with_sigma: bool) -> dict[str, float]:
    names = {"alpha": TRUE_ALPHA, **{f"beta[{j}]": b for j, b in enumerate(TRUE_BETA)}}
    return {**names, "sigma": TRUE_SIGMA} if with_sigma else names


def fit(noise: str, X: np.ndarray, y: np.ndarray, args) -> dict:
    """Runs NUTS on one variant and prints the posterior against the truth."""
    known = noise == "known"
    model = linear_regression(X, sigma=TRUE_SIGMA if known else None).observe(y=y)
    post = run_nuts(model, args)
    summary = summarize(post.to_arviz(), ["alpha", "beta"] + ([] if known else ["sigma"]))
    exact_mean, exact_sd = exact_posterior(X, y, TRUE_SIGMA) if known else (None, None)
    print_header(f"{noise} noise ({args.backend}, "
                 f"{post.num_chains} chains x {post.num_draws} draws)")
    print(coefficient_table(summary, truth_by_name(not known), exact_mean))
    print(f"divergent transitions: {num_divergences(post)}")
    if args.out:
        write_csv(os.path.join(args.out, f"summary_{noise}_noise.csv"), summary)
    return {"posterior": post, "summary": summary, "exact_mean": exact_mean,
            "exact_sd": exact_sd, "divergences": num_divergences(post)}


def main(argv: Sequence[str] | None = None) -> dict:
    """Fits the requested variant(s).

    Returns:
        ``{"truth": {name: value}, "X", "y", variant: {"posterior", "summary",
        "exact_mean", "exact_sd", "divergences"}}`` for each variant run
        ("known" and/or "unknown"); ``exact_*`` are None for unknown noise.
    """
    parser = make_parser(__doc__.splitlines()[0], chains=4, warmup=500, draws=500)
    parser.add_argument("--noise", choices=("known", "unknown", "both"), default="both",
                        help="noise variant to fit (default: %(default)s)")
    parser.add_argument("--num-obs", type=int, default=100, help="data points (%(default)s)")
    args = parser.parse_args(argv)
    X, y = make_data(args.num_obs)
    results: dict = {"truth": truth_by_name(True), "X": X, "y": y}
    for noise in (("known", "unknown") if args.noise == "both" else (args.noise,)):
        results[noise] = fit(noise, X, y, args)
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
