"""Variational inference against NUTS on a hierarchical logistic regression.

Synthetic data: J groups, each with its own intercept, and D shared slopes::

    mu_alpha ~ Normal(0, 2),  sigma_alpha ~ HalfNormal(1)
    alpha_raw[j] ~ Normal(0, 1),  alpha[j] = mu_alpha + sigma_alpha * alpha_raw[j]
    beta ~ Normal(0, 1)^D
    y_i ~ Bernoulli(logits = alpha[group_i] + x_i @ beta)

written non-centered (``alpha_raw``), the geometry both NUTS and a Gaussian
guide handle. SVI fits an automatic Gaussian guide (mean-field by default);
NUTS gives the reference. ArviZ draws both posteriors side by side (a forest
plot and density overlays) and the script prints, per parameter, how far the
VI mean is from the NUTS mean in NUTS posterior sds, the ratio of their sds,
and the PSIS k-hat of the guide (above 0.7: the guide misses posterior mass).

Run::

    PYTHONPATH=. python examples/vi_vs_nuts.py --guide normal --steps 4000 --out outputs/vi_vs_nuts
"""
from __future__ import annotations

import os
import sys
from typing import Any, Sequence

import numpy as np

import ppl
from ppl import dist

from _common import (figure_of, make_parser, print_header, run_nuts, save_figure, use_agg,
                     write_csv, write_json)

NUM_GROUPS, NUM_FEATURES, OBS_PER_GROUP = 8, 3, 50
TRUTH = {"mu_alpha": -0.5, "sigma_alpha": 1.0, "beta": np.array([1.0, -0.7, 0.4])}
DATA_SEED = 0  # the data never depend on --seed
TOP_LEVEL = ("mu_alpha", "sigma_alpha", "beta", "alpha")


@ppl.model
def hierarchical_logistic(group, x, num_groups):
    mu_alpha = ppl.sample("mu_alpha", dist.Normal(0.0, 2.0))
    sigma_alpha = ppl.sample("sigma_alpha", dist.HalfNormal(1.0))
    beta = ppl.sample("beta", dist.Normal(0.0, 1.0).expand((x.shape[1],)).to_event(1))
    with ppl.plate("group", num_groups):
        alpha_raw = ppl.sample("alpha_raw", dist.Normal(0.0, 1.0))
        alpha = ppl.deterministic("alpha", mu_alpha + sigma_alpha * alpha_raw)
    with ppl.plate("obs", x.shape[0]):
        ppl.sample("y", dist.Bernoulli(logits=alpha[group] + x @ beta))


def make_data() -> dict[str, np.ndarray]:
    """Synthetic data from :data:`TRUTH` with a fixed seed.

    Returns:
        ``group`` (N,) int, ``x`` (N, D), ``y`` (N,) in {0, 1} and the true ``alpha`` (J,).
    """
    rng = np.random.default_rng(DATA_SEED)
    alpha = TRUTH["mu_alpha"] + TRUTH["sigma_alpha"] * rng.normal(size=NUM_GROUPS)
    group = np.repeat(np.arange(NUM_GROUPS), OBS_PER_GROUP)
    x = rng.normal(size=(len(group), NUM_FEATURES))
    logits = alpha[group] + x @ TRUTH["beta"]
    y = (rng.uniform(size=len(group)) < 1 / (1 + np.exp(-logits))).astype(float)
    return {"group": group, "x": x, "y": y, "alpha": alpha}


def build(data: dict[str, np.ndarray]) -> ppl.Model:
    return hierarchical_logistic(data["group"], data["x"], NUM_GROUPS).observe(y=data["y"])


def run_vi(model: ppl.Model, args) -> Any:
    """SVI with the guide, steps and learning rate of the flags."""
    return ppl.infer(model, method="svi", backend=args.backend, guide=args.guide,
                     steps=args.steps, learning_rate=args.learning_rate, draws=args.vi_draws,
                     seed=args.seed, progress=args.progress)


def compare_moments(nuts_idata: Any, vi_idata: Any) -> Any:
    """Per scalar parameter: NUTS and VI mean and sd, and their differences.

    Returns:
        A DataFrame indexed like ``az.summary`` with columns nuts_mean, nuts_sd,
        vi_mean, vi_sd, z (VI mean - NUTS mean in NUTS sds) and sd_ratio (VI / NUTS).
    """
    import arviz as az

    stats = dict(var_names=list(TOP_LEVEL), kind="stats")
    nuts, vi = az.summary(nuts_idata, **stats), az.summary(vi_idata, **stats)
    table = nuts[["mean", "sd"]].add_prefix("nuts_").join(vi[["mean", "sd"]].add_prefix("vi_"))
    table["z"] = (table["vi_mean"] - table["nuts_mean"]) / table["nuts_sd"]
    table["sd_ratio"] = table["vi_sd"] / table["nuts_sd"]
    return table


def plot_forest(nuts_idata: Any, vi_idata: Any, path: str, label: str) -> str:
    import arviz as az

    axes = az.plot_forest([nuts_idata, vi_idata], model_names=["NUTS", label],
                          var_names=list(TOP_LEVEL), combined=True, hdi_prob=0.94,
                          figsize=(7, 8))
    return save_figure(figure_of(axes), path)


def plot_densities(nuts_idata: Any, vi_idata: Any, path: str, label: str) -> str:
    import arviz as az

    axes = az.plot_density([nuts_idata, vi_idata], data_labels=["NUTS", label],
                           var_names=["mu_alpha", "sigma_alpha", "beta"], shade=0.1,
                           hdi_prob=0.99)
    return save_figure(figure_of(axes), path)


def write_outputs(out: str, nuts_idata: Any, vi_idata: Any, table: Any, numbers: dict,
                  label: str) -> dict[str, str]:
    use_agg()
    return {"forest": plot_forest(nuts_idata, vi_idata, os.path.join(out, "forest.png"), label),
            "densities": plot_densities(nuts_idata, vi_idata, os.path.join(out, "densities.png"),
                                        label),
            "table": write_csv(os.path.join(out, "comparison.csv"), table),
            "summary": write_json(os.path.join(out, "summary.json"), numbers)}


def main(argv: Sequence[str] | None = None) -> dict:
    """Fits VI and NUTS, compares their posteriors and (with --out) plots them.

    Returns:
        ``{"pareto_k": float, "table": DataFrame (see compare_moments),
        "max_abs_z": float, "vi_seconds", "nuts_seconds", "truth": {...},
        "vi_posterior", "nuts_posterior", "vi_idata", "nuts_idata", "files": {...}}``.
    """
    parser = make_parser(__doc__.splitlines()[0], chains=4, warmup=500, draws=500)
    parser.add_argument("--guide", choices=("normal", "mvn", "lowrank"), default="normal",
                        help="SVI guide (%(default)s)")
    parser.add_argument("--steps", type=int, default=4000, help="SVI steps (%(default)s)")
    parser.add_argument("--learning-rate", type=float, default=0.02,
                        help="Adam's initial learning rate (%(default)s)")
    parser.add_argument("--vi-draws", type=int, default=2000,
                        help="guide draws kept (%(default)s)")
    args = parser.parse_args(argv)
    data = make_data()
    model = build(data)
    vi_post, nuts_post = run_vi(model, args), run_nuts(model, args)
    vi_idata, nuts_idata = vi_post.to_arviz(), nuts_post.to_arviz()
    table = compare_moments(nuts_idata, vi_idata)
    label = f"VI ({args.guide})"
    numbers = {"pareto_k": float(vi_post.extras["pareto_k"]),
               "max_abs_z": float(table["z"].abs().max()),
               "vi_seconds": float(vi_post.timings["total"]),
               "nuts_seconds": float(nuts_post.timings["total"]),
               "vi_notes": list(vi_post.notes),
               "truth": {"mu_alpha": TRUTH["mu_alpha"], "sigma_alpha": TRUTH["sigma_alpha"],
                         "beta": TRUTH["beta"].tolist(), "alpha": data["alpha"].tolist()},
               "moments": table.to_dict(orient="index"),
               "settings": {k: v for k, v in vars(args).items() if k != "out"}}
    print_header(f"{label} vs NUTS ({args.backend})")
    print(table.round(3).to_string())
    print(f"PSIS k-hat of the guide: {numbers['pareto_k']:.2f} (> 0.7: do not trust the guide); "
          f"largest |VI mean - NUTS mean| = {numbers['max_abs_z']:.2f} NUTS sd")
    files = write_outputs(args.out, nuts_idata, vi_idata, table, numbers, label) if args.out else {}
    return {**numbers, "table": table, "files": files, "vi_posterior": vi_post,
            "nuts_posterior": nuts_post, "vi_idata": vi_idata, "nuts_idata": nuts_idata}


if __name__ == "__main__":
    main(sys.argv[1:])
