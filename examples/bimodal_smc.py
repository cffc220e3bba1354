"""A bimodal posterior: SMC recovers both modes and their weights, NUTS gets stuck in one.

The model observes the square of a parameter::

    theta ~ Normal(0.5, 1.5)
    y_i   ~ Normal(theta**2, sigma)        i = 1..N

so +theta and -theta explain the data equally well: the posterior has two
narrow modes near +-sqrt(mean(y)), weighted only by the prior (the one on the
side of the prior mean, theta > 0, is heavier). Between them the likelihood
is about exp(-N theta^4 / (2 sigma^2)), so a NUTS chain never crosses: each
chain reports one mode with weight 1. Adaptive-tempering SMC starts from the
prior, where both sides are populated, and keeps the right proportion as the
likelihood is switched on. The exact weight and log evidence come from
quadrature on a fine grid (:func:`exact_posterior`).

Run::

    PYTHONPATH=. python examples/bimodal_smc.py --particles 2000 --out outputs/bimodal_smc
"""
from __future__ import annotations

import os
import sys
from typing import Any, NamedTuple, Sequence

import numpy as np
from scipy import stats
from scipy.special import logsumexp

import ppl
from ppl import dist

from _common import make_parser, print_header, run_nuts, save_figure, use_agg, write_json

PRIOR_MEAN, PRIOR_SD = 0.5, 1.5
THETA_TRUE, SIGMA, NUM_OBS = 1.5, 1.0, 20
DATA_SEED = 0  # the data never depend on --seed
GRID = (-8.0, 8.0)  # prior mass outside is below 1e-5 and the likelihood there is ~0


@ppl.model
def squared_observation(num_obs, sigma):
    theta = ppl.sample("theta", dist.Normal(PRIOR_MEAN, PRIOR_SD))
    with ppl.plate("obs", num_obs):
        ppl.sample("y", dist.Normal(theta * theta, sigma))


def make_data(num_obs: int = NUM_OBS) -> np.ndarray:
    """Observations (num_obs,) from theta = THETA_TRUE with a fixed seed."""
    rng = np.random.default_rng(DATA_SEED)
    return THETA_TRUE ** 2 + SIGMA * rng.normal(size=num_obs)


class ExactPosterior(NamedTuple):
    """Quadrature results (immutable).

    Attributes:
        grid: theta grid (G,); density: posterior density on it (G,).
        weight_positive: posterior mass of theta > 0.
        log_evidence: log p(y).
    """

    grid: np.ndarray
    density: np.ndarray
    weight_positive: float
    log_evidence: float


def log_joint(theta: np.ndarray, y: np.ndarray) -> np.ndarray:
    """log p(theta) + log p(y | theta) for a grid of theta (G,).

    The likelihood uses the sufficient statistics sum(y) and sum(y^2):
    sum_i (y_i - theta^2)^2 = sum(y^2) - 2 theta^2 sum(y) + N theta^4.
    """
    n, theta2 = len(y), theta ** 2
    squares = np.sum(y ** 2) - 2 * theta2 * np.sum(y) + n * theta2 ** 2
    log_lik = -0.5 * n * np.log(2 * np.pi * SIGMA ** 2) - 0.5 * squares / SIGMA ** 2
    return stats.norm(PRIOR_MEAN, PRIOR_SD).logpdf(theta) + log_lik


def exact_posterior(y: np.ndarray, num_points: int = 100_001) -> ExactPosterior:
    """Mode weight and evidence by the trapezoid rule on a uniform grid.

    The modes have an sd of ~0.08, so 100k points over [-8, 8] put ~500
    points per sd; the result agrees with a grid twice as fine to 1e-9.
    """
    grid = np.linspace(*GRID, num_points)
    step = grid[1] - grid[0]
    log_f = log_joint(grid, y)
    trapezoid = np.full(num_points, np.log(step))
    trapezoid[[0, -1]] += np.log(0.5)
    log_terms = log_f + trapezoid
    log_z = float(logsumexp(log_terms))
    positive = float(np.exp(logsumexp(np.where(grid > 0, log_terms, -np.inf)) - log_z))
    return ExactPosterior(grid, np.exp(log_f - log_z), positive, log_z)


def mode_weights(draws: np.ndarray) -> np.ndarray:
    """Fraction of each chain's draws with theta > 0: draws (chain, draw) -> (chain,)."""
    return (np.asarray(draws) > 0).mean(axis=1)


def smc_weight_estimate(per_chain: np.ndarray, particles: int) -> tuple[float, float]:
    """Pooled mode weight of independent SMC runs and its Monte Carlo standard error.

    The runs are independent, so their spread is an honest error estimate;
    it is floored at the binomial error of i.i.d. draws, which no correlated
    SMC cloud can beat (this only guards against a spread of zero by luck).
    """
    mean = float(per_chain.mean())
    spread = per_chain.std(ddof=1) / np.sqrt(len(per_chain)) if len(per_chain) > 1 else np.inf
    floor = np.sqrt(mean * (1 - mean) / (len(per_chain) * particles))
    return mean, float(max(spread, floor))


def run_smc(model: ppl.Model, args) -> tuple[Any, dict]:
    """Runs SMC; returns the posterior and its mode-weight and evidence numbers."""
    post = ppl.infer(model, method="smc", backend=args.backend, particles=args.particles,
                     chains=args.smc_chains, kernel=args.kernel, seed=args.seed,
                     progress=args.progress)
    per_chain = mode_weights(post["theta"])
    weight, se = smc_weight_estimate(per_chain, args.particles)
    return post, {"weight_positive": weight, "weight_se": se, "per_chain": per_chain.tolist(),
                  "log_evidence": float(post.log_evidence),
                  "log_evidence_se": float(post.log_evidence_se),
                  "tempering_steps":
                      np.sum(np.isfinite(post.extras["temperatures"]), axis=1).tolist(),
                  "seconds": float(post.timings["total"]), "notes": list(post.notes)}


def run_mcmc(model: ppl.Model, args) -> tuple[Any, dict]:
    """Runs NUTS; each chain's mode weight shows whether it ever left its first mode."""
    post = run_nuts(model, args)
    per_chain = mode_weights(post["theta"])
    stuck = int(np.sum((per_chain == 0) | (per_chain == 1)))
    return post, {"weight_positive": float(per_chain.mean()), "per_chain": per_chain.tolist(),
                  "chains_stuck_in_one_mode": stuck, "chains": len(per_chain),
                  "seconds": float(post.timings["total"])}


def plot(exact: ExactPosterior, smc_post, nuts_post, numbers: dict, path: str) -> str:
    """Left: SMC and NUTS draws against the exact density; right: the mode weights."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [2, 1]})
    keep = exact.density > 1e-4 * exact.density.max()
    lo, hi = exact.grid[keep].min() - 0.2, exact.grid[keep].max() + 0.2
    bins = np.linspace(lo, hi, 121)
    left.hist(smc_post.flat("theta"), bins=bins, density=True, alpha=0.5, label="SMC (all runs)")
    for c, draws in enumerate(nuts_post["theta"]):
        left.hist(draws, bins=bins, density=True, histtype="step", lw=1,
                  label="NUTS, one hist per chain" if c == 0 else None, color="tab:red")
    left.plot(exact.grid[keep], exact.density[keep], "k", lw=1, label="exact (quadrature)")
    left.set(xlabel="theta", ylabel="density", title="posterior of theta")
    left.legend(fontsize=8)
    names = ["exact", "SMC", "NUTS"]
    values = [exact.weight_positive, numbers["smc"]["weight_positive"],
              numbers["nuts"]["weight_positive"]]
    errors = [0.0, 2 * numbers["smc"]["weight_se"], 0.0]
    right.bar(names, values, yerr=errors, color=["k", "tab:blue", "tab:red"], alpha=0.7, capsize=4)
    right.set(ylim=(0, 1), ylabel="P(theta > 0 | y)", title="mode weight (SMC: ±2 se)")
    return save_figure(fig, path)


def report(numbers: dict) -> str:
    """A short text table of the three mode-weight estimates."""
    e, s, n = numbers["exact"], numbers["smc"], numbers["nuts"]
    return "\n".join([
        f"{'':<7}{'P(theta>0)':>12}{'± se':>9}{'log evidence':>15}{'± se':>9}",
        f"{'exact':<7}{e['weight_positive']:>12.4f}{'':>9}{e['log_evidence']:>15.4f}",
        f"{'SMC':<7}{s['weight_positive']:>12.4f}{s['weight_se']:>9.4f}"
        f"{s['log_evidence']:>15.4f}{s['log_evidence_se']:>9.4f}",
        f"{'NUTS':<7}{n['weight_positive']:>12.4f}{'':>9}",
        f"NUTS chains stuck in one mode: {n['chains_stuck_in_one_mode']} of {n['chains']} "
        f"(per-chain weights {n['per_chain']})"])


def main(argv: Sequence[str] | None = None) -> dict:
    """Runs SMC and NUTS on the bimodal model and compares both with quadrature.

    Returns:
        ``{"exact": {"weight_positive", "log_evidence"}, "smc": {"weight_positive",
        "weight_se", "per_chain", "log_evidence", "log_evidence_se", ...},
        "nuts": {"weight_positive", "per_chain", "chains_stuck_in_one_mode", ...},
        "settings": {...}, "files": {name: path}, "smc_posterior", "nuts_posterior"}``.
    """
    parser = make_parser(__doc__.splitlines()[0], chains=4, warmup=300, draws=300)
    parser.add_argument("--particles", type=int, default=2000, help="SMC particles per run "
                        "(%(default)s)")
    parser.add_argument("--smc-chains", type=int, default=8,
                        help="independent SMC runs; their spread gives the errors (%(default)s)")
    parser.add_argument("--kernel", choices=("rwm", "hmc"), default="rwm",
                        help="SMC rejuvenation kernel (%(default)s)")
    args = parser.parse_args(argv)
    y = make_data()
    model = squared_observation(NUM_OBS, SIGMA).observe(y=y)
    exact = exact_posterior(y)
    smc_post, smc = run_smc(model, args)
    nuts_post, nuts = run_mcmc(model, args)
    numbers = {"exact": {"weight_positive": exact.weight_positive,
                         "log_evidence": exact.log_evidence},
               "smc": smc, "nuts": nuts,
               "settings": {k: v for k, v in vars(args).items() if k != "out"}}
    print_header(f"bimodal posterior ({args.backend})")
    print(report(numbers))
    files = {}
    if args.out:
        use_agg()
        files["plot"] = plot(exact, smc_post, nuts_post, numbers, os.path.join(args.out,
                                                                               "bimodal.png"))
        files["summary"] = write_json(os.path.join(args.out, "summary.json"), numbers)
    return {**numbers, "files": files, "smc_posterior": smc_post, "nuts_posterior": nuts_post}


if __name__ == "__main__":
    main(sys.argv[1:])
