"""The whole pipeline on one model: declare, inspect, compile, check, sample, criticize.

A hierarchical linear regression with varying intercepts (non-centered),
on synthetic data with known parameters::

    a_j = mu_a + tau_a * a_raw_j,  a_raw_j ~ Normal(0, 1)     j = 1..J groups
    y_i ~ Normal(a[group_i] + b * x_i, sigma)                 i = 1..N

Steps, each leaving a file under ``--out`` (default ``outputs/pipeline``):

1. declare the model and print ``describe()``          -> model.txt
2. render the graph (PNG with graphviz, else DOT)      -> model.png or model.png.dot, model.dot
3. compile on NumPyro and on Pyro; log densities and
   gradients agree at random points                    -> backend_check.csv
4. NUTS (NumPyro by default), InferenceData with prior,
   posterior predictive and log likelihood             -> summary.csv, summary.txt
5. plots: trace, posterior, prior and posterior
   predictive checks                                   -> trace.png, posterior.png,
                                                          prior_ppc.png, ppc.png
6. PSIS-LOO                                            -> loo.txt
and a manifest of everything written                   -> manifest.json

Run::

    PYTHONPATH=. python examples/pipeline.py --out outputs/pipeline
"""
from __future__ import annotations

import os
import sys
import time
from typing import Sequence

import numpy as np

import ppl
from ppl import dist

from _common import (figure_of, make_parser, num_divergences, print_header, run_nuts,
                     save_figure, summarize, use_agg, write_csv, write_json, write_text)

DATA_SEED = 11
NUM_GROUPS = 8
TRUTH = {"mu_a": 1.0, "tau_a": 0.8, "b": -0.6, "sigma": 0.5}
TOP_LEVEL = list(TRUTH)
# float32 on both backends: agreement to a few units in the 6th significant digit.
LOG_DENSITY_RTOL = 1e-4


@ppl.model
def hierarchical_regression(group, x, num_groups):
    mu_a = ppl.sample("mu_a", dist.Normal(0.0, 5.0))
    tau_a = ppl.sample("tau_a", dist.HalfNormal(2.0))
    b = ppl.sample("b", dist.Normal(0.0, 2.0))
    sigma = ppl.sample("sigma", dist.HalfNormal(2.0))
    with ppl.plate("group", num_groups):
        a_raw = ppl.sample("a_raw", dist.Normal(0.0, 1.0))
        a = ppl.deterministic("a", mu_a + tau_a * a_raw)
    with ppl.plate("obs", len(x)):
        ppl.sample("y", dist.Normal(a[group] + b * x, sigma))


def make_data(num_obs: int) -> dict[str, np.ndarray]:
    """Synthetic data from :data:`TRUTH` with a fixed seed.

    Returns:
        ``group`` (N,) int, ``x`` (N,), ``y`` (N,) and the true intercepts ``a`` (J,).
    """
    rng = np.random.default_rng(DATA_SEED)
    a = TRUTH["mu_a"] + TRUTH["tau_a"] * rng.normal(size=NUM_GROUPS)
    group = np.sort(rng.integers(0, NUM_GROUPS, size=num_obs))
    x = rng.normal(size=num_obs)
    y = a[group] + TRUTH["b"] * x + TRUTH["sigma"] * rng.normal(size=num_obs)
    return {"group": group, "x": x, "y": y, "a": a}


def check_backends(model: ppl.Model, num_points: int, seed: int) -> tuple[list[dict], dict]:
    """Compiles on both backends and compares log densities and gradients.

    The points are prior draws, mapped to the unconstrained space by each
    backend's own bijections (which must agree too).

    Returns:
        (one row per point, worst-case relative differences).
    """
    programs = {b: ppl.compile(model, backend=b) for b in ("numpyro", "pyro")}
    draws = programs["numpyro"].sample_prior(num_points, seed=seed)
    rows = []
    for i in range(num_points):
        point = {k: np.array(draws[k][i]) for k in programs["numpyro"].latent_names}
        # np.array copies: arrays that JAX hands out are read-only, which torch warns about.
        u = {b: {k: np.array(v) for k, v in p.to_unconstrained(point).items()}
             for b, p in programs.items()}
        lp = {b: p.log_density(u["numpyro"]) for b, p in programs.items()}
        grad = {b: p.grad_log_density(u["numpyro"]) for b, p in programs.items()}
        rows.append({
            "point": i, "log_density_numpyro": lp["numpyro"], "log_density_pyro": lp["pyro"],
            "rel_diff": abs(lp["numpyro"] - lp["pyro"]) / max(1.0, abs(lp["numpyro"])),
            "grad_rel_diff": _max_rel_diff(grad["numpyro"], grad["pyro"]),
            "unconstrained_rel_diff": _max_rel_diff(u["numpyro"], u["pyro"]),
        })
    worst = {k: max(r[k] for r in rows)
             for k in ("rel_diff", "grad_rel_diff", "unconstrained_rel_diff")}
    return rows, worst


def _max_rel_diff(a: dict, b: dict) -> float:
    return max(float(np.max(np.abs(np.asarray(a[k]) - np.asarray(b[k]))
                            / np.maximum(1.0, np.abs(np.asarray(a[k]))))) for k in a)


def make_plots(idata, out: str) -> dict[str, str]:
    """Trace, posterior and predictive-check plots; returns name -> path."""
    import arviz as az

    use_agg()
    plots = {
        "trace": lambda: az.plot_trace(idata, var_names=TOP_LEVEL + ["a"], compact=True),
        "posterior": lambda: az.plot_posterior(idata, var_names=TOP_LEVEL, grid=(2, 2),
                                               ref_val={k: [{"ref_val": v}]
                                                        for k, v in TRUTH.items()}),
        "prior_ppc": lambda: az.plot_ppc(idata, group="prior", num_pp_samples=100,
                                         random_seed=0),
        "ppc": lambda: az.plot_ppc(idata, num_pp_samples=100, random_seed=0),
    }
    return {name: save_figure(figure_of(draw()), os.path.join(out, f"{name}.png"))
            for name, draw in plots.items()}


def step_describe(model: ppl.Model, out: str) -> dict[str, str]:
    """1-2: the site table and the graph."""
    files = {"model_table": write_text(os.path.join(out, "model.txt"), model.describe()),
             "graph": model.render(os.path.join(out, "model.png")),
             "graph_dot": model.render(os.path.join(out, "model.dot"))}
    print(f"\nwrote {files['graph']}" + ("" if files["graph"].endswith(".png") else
                                         " (graphviz's `dot` not found: DOT text, not PNG)"))
    return files


def step_check(model: ppl.Model, args, out: str) -> tuple[list[dict], dict, str]:
    """3: log densities and gradients of both backends at random points."""
    import pandas as pd

    rows, worst = check_backends(model, args.check_points, args.seed)
    table = pd.DataFrame(rows).set_index("point")
    print(table.to_string(float_format=lambda v: f"{v:.6g}"))
    verdict = "agree" if worst["rel_diff"] < LOG_DENSITY_RTOL else "DISAGREE"
    print(f"largest relative difference: log density {worst['rel_diff']:.2e}, gradient "
          f"{worst['grad_rel_diff']:.2e} -> {verdict} (tolerance {LOG_DENSITY_RTOL:g}, float32)")
    return rows, worst, write_csv(os.path.join(out, "backend_check.csv"), table)


def step_sample(model: ppl.Model, args, data: dict, out: str) -> tuple:
    """4: NUTS, InferenceData with every group, and the summary table."""
    post = run_nuts(model, args)
    idata = post.to_arviz(prior=True, posterior_predictive=True, log_likelihood=True)
    summary = summarize(idata, TOP_LEVEL + ["a"])
    text = (f"{post!r}\ndivergent transitions: {num_divergences(post)}\n"
            f"true values: {TRUTH}, a = {np.round(data['a'], 3).tolist()}\n\n"
            f"{summary.to_string()}")
    print(text)
    files = {"summary_csv": write_csv(os.path.join(out, "summary.csv"), summary),
             "summary_txt": write_text(os.path.join(out, "summary.txt"), text)}
    return post, idata, summary, files


def step_loo(idata, out: str) -> tuple[object, str]:
    """6: PSIS-LOO from the pointwise log likelihood."""
    import arviz as az

    loo = az.loo(idata, pointwise=True)
    print(loo)
    return loo, write_text(os.path.join(out, "loo.txt"), str(loo))


def main(argv: Sequence[str] | None = None) -> dict:
    """Runs every step and writes its outputs.

    Returns:
        ``{"out", "files" (name -> path), "backend_check" (rows), "backend_worst",
        "posterior", "idata", "summary", "loo", "divergences", "truth", "data",
        "timings" (step -> seconds)}``.
    """
    parser = make_parser(__doc__.splitlines()[0], out=os.path.join("outputs", "pipeline"))
    parser.add_argument("--num-obs", type=int, default=200, help="data points (%(default)s)")
    parser.add_argument("--check-points", type=int, default=5,
                        help="random points for the cross-backend check (%(default)s)")
    args = parser.parse_args(argv)
    out, timings, clock = args.out, {}, time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        timings[step], clock = time.perf_counter() - clock, time.perf_counter()

    data = make_data(args.num_obs)
    print_header("1-2. the model and its graph")
    model = hierarchical_regression(data["group"], data["x"], NUM_GROUPS).observe(y=data["y"])
    files = step_describe(model, out)
    lap("describe")
    print_header("3. both backends, one density")
    rows, worst, files["backend_check"] = step_check(model, args, out)
    lap("backend_check")
    print_header(f"4. NUTS on {args.backend}")
    post, idata, summary, sample_files = step_sample(model, args, data, out)
    files.update(sample_files)
    lap("sampling")
    print_header("5. plots")
    files.update(make_plots(idata, out))
    print("\n".join(f"wrote {files[k]}" for k in ("trace", "posterior", "prior_ppc", "ppc")))
    lap("plots")
    print_header("6. PSIS-LOO")
    loo, files["loo"] = step_loo(idata, out)
    lap("loo")

    timings["total"] = sum(timings.values())
    files["manifest"] = os.path.join(out, "manifest.json")
    write_json(files["manifest"], {
        "files": {k: os.path.relpath(v, out) for k, v in files.items()},
        "settings": vars(args), "backend_check": worst,
        "divergences": num_divergences(post), "elpd_loo": float(loo.elpd_loo),
        "timings": timings})
    print(f"\nall outputs under {out}/ ({timings['total']:.1f} s)")
    return {"out": out, "files": files, "backend_check": rows, "backend_worst": worst,
            "posterior": post, "idata": idata, "summary": summary, "loo": loo,
            "divergences": num_divergences(post), "truth": TRUTH, "data": data,
            "timings": timings}


if __name__ == "__main__":
    main(sys.argv[1:])
