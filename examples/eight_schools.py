"""Eight schools (Rubin 1981): centered and non-centered hierarchical models.

The centered model samples each school's effect ``theta ~ Normal(mu, tau)``
directly; its posterior is a funnel in (tau, theta) that NUTS cannot explore
when tau is small, which shows up as divergent transitions. The non-centered
model samples ``theta_tilde ~ Normal(0, 1)`` and sets
``theta = mu + tau * theta_tilde``: the same model, a geometry NUTS handles.

Run::

    PYTHONPATH=. python examples/eight_schools.py --backend numpyro --param both

Integrating theta out leaves y_j ~ Normal(mu, sqrt(sigma_j^2 + tau^2)), a
two-parameter posterior that :func:`reference_posterior` integrates on a grid:
mu has mean 4.40 (sd 3.32) and tau mean 3.60 (sd 3.22), as in posteriordb's
reference draws. Both MCMC runs are printed against it.
"""
from __future__ import annotations

import os
import sys
from typing import Sequence

import numpy as np

import ppl
from ppl import dist

from _common import (make_parser, num_divergences, print_header, run_nuts, summarize,
                     write_csv, write_text)

# Estimated coaching effects and their standard errors (Rubin 1981; BDA3 §5.5).
Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
PARAMETRIZATIONS = ("centered", "noncentered")


@ppl.model
def centered(sigma):
    mu = ppl.sample("mu", dist.Normal(0.0, 5.0))
    tau = ppl.sample("tau", dist.HalfCauchy(5.0))
    with ppl.plate("school", len(sigma)):
        theta = ppl.sample("theta", dist.Normal(mu, tau))
        ppl.sample("y", dist.Normal(theta, sigma))


@ppl.model
def noncentered(sigma):
    mu = ppl.sample("mu", dist.Normal(0.0, 5.0))
    tau = ppl.sample("tau", dist.HalfCauchy(5.0))
    with ppl.plate("school", len(sigma)):
        theta_tilde = ppl.sample("theta_tilde", dist.Normal(0.0, 1.0))
        theta = ppl.deterministic("theta", mu + tau * theta_tilde)
        ppl.sample("y", dist.Normal(theta, sigma))


MODELS = {"centered": centered, "noncentered": noncentered}


def reference_posterior(num_mu: int = 701, num_tau: int = 2001) -> dict[str, tuple[float, float]]:
    """Posterior mean and sd of mu and tau by quadrature (trapezoid rule).

    The grid covers mu in [-30, 40] and tau in [0, 120]; the mass outside is
    below 1e-6, and the moments agree with a grid four times finer to 1e-4.

    Returns:
        ``{"mu": (mean, sd), "tau": (mean, sd)}``.
    """
    mu = np.linspace(-30.0, 40.0, num_mu)[:, None]
    tau = np.linspace(0.0, 120.0, num_tau)[None, :]
    var = SIGMA[:, None, None] ** 2 + tau**2  # (school, mu, tau)
    log_post = (-0.5 * (mu / 5.0) ** 2 - np.log1p((tau / 5.0) ** 2)
                - 0.5 * ((Y[:, None, None] - mu) ** 2 / var + np.log(var)).sum(0))
    weight = np.exp(log_post - log_post.max())
    weight[[0, -1], :] *= 0.5
    weight[:, [0, -1]] *= 0.5
    weight /= weight.sum()
    moments = {}
    for name, grid in (("mu", mu), ("tau", tau)):
        mean = float((weight * grid).sum())
        moments[name] = (mean, float(np.sqrt((weight * (grid - mean) ** 2).sum())))
    return moments


def build(param: str) -> ppl.Model:
    """The eight schools model in one parametrization, conditioned on the data."""
    return MODELS[param](SIGMA).observe(y=Y)


def fit(param: str, args, reference: dict[str, tuple[float, float]]) -> dict:
    """Runs NUTS on one parametrization and prints its summary next to the exact moments."""
    post = run_nuts(build(param), args)
    idata = post.to_arviz()
    summary = summarize(idata, ["mu", "tau", "theta"])
    divergences = num_divergences(post)
    print_header(f"{param} ({args.backend}, {post.num_chains} chains x {post.num_draws} draws)")
    print(summary.to_string())
    print("exact posterior: " + ", ".join(f"{k} mean {m:.2f} sd {sd:.2f}"
                                          for k, (m, sd) in reference.items()))
    print(f"divergent transitions: {divergences} of {post.num_chains * post.num_draws}")
    if args.out:
        write_csv(os.path.join(args.out, f"summary_{param}.csv"), summary)
    return {"posterior": post, "idata": idata, "summary": summary, "divergences": divergences}


def main(argv: Sequence[str] | None = None) -> dict:
    """Fits the requested parametrization(s); returns results keyed by parametrization.

    Returns:
        ``{"backend": str, "reference": {"mu"|"tau": (mean, sd)} (exact),
        "divergences": {param: int}, param: {"posterior", "idata", "summary",
        "divergences"}, ...}`` for each parametrization run.
    """
    parser = make_parser(__doc__.splitlines()[0])
    parser.add_argument("--param", choices=PARAMETRIZATIONS + ("both",), default="both",
                        help="parametrization to fit (default: %(default)s)")
    args = parser.parse_args(argv)
    params = PARAMETRIZATIONS if args.param == "both" else (args.param,)
    results: dict = {"backend": args.backend, "reference": reference_posterior()}
    for param in params:
        results[param] = fit(param, args, results["reference"])
    results["divergences"] = {p: results[p]["divergences"] for p in params}
    if len(params) == 2:
        report = compare(results)
        print_header("centered vs non-centered")
        print(report)
        if args.out:
            write_text(os.path.join(args.out, "comparison.txt"), report)
    return results


def compare(results: dict) -> str:
    """Divergences, and mean (sd) and ESS of mu and tau, against the exact posterior."""
    lines = [f"{'':<13}{'divergences':>12}{'mu':>14}{'tau':>14}{'ess_bulk(tau)':>15}"]
    for param in PARAMETRIZATIONS:
        s = results[param]["summary"]
        mu, tau = (f"{s.loc[k, 'mean']:.2f} ({s.loc[k, 'sd']:.2f})" for k in ("mu", "tau"))
        lines.append(f"{param:<13}{results[param]['divergences']:>12d}{mu:>14}{tau:>14}"
                     f"{s.loc['tau', 'ess_bulk']:>15.0f}")
    mu, tau = (f"{m:.2f} ({sd:.2f})" for m, sd in (results["reference"][k] for k in ("mu", "tau")))
    lines.append(f"{'exact':<13}{'':>12}{mu:>14}{tau:>14}")
    return "\n".join(lines)


if __name__ == "__main__":
    main(sys.argv[1:])
