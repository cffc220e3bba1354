"""The examples run and get the right answers.

Each test calls an example's ``main([...])`` with small sampler settings.
Tolerances come from Monte Carlo error: a posterior mean must sit within
4 MCSE of an exact reference (quadrature for eight schools, the conjugate
posterior for known-noise regression), and within 4 posterior sd of the
value that generated synthetic data.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SCRIPTS = ("eight_schools", "linear_regression", "logistic_regression", "pipeline")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def load(monkeypatch):
    """Imports an example by file name (examples/ is a folder of scripts, not a package)."""
    monkeypatch.syspath_prepend(str(EXAMPLES))  # the scripts import their sibling _common

    def _load(name: str):
        spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return _load


def assert_mean_near(summary, name: str, reference: float, slack: float = 0.0) -> None:
    """|posterior mean - reference| <= 4 MCSE (+ slack for the reference's own error)."""
    row = summary.loc[name]
    assert abs(row["mean"] - reference) <= 4 * row["mcse_mean"] + slack, (
        f"{name}: mean {row['mean']:.4f} vs reference {reference:.4f} "
        f"(mcse {row['mcse_mean']:.4f})")


def assert_sd_near(summary, name: str, reference: float, slack: float = 0.0) -> None:
    """|posterior sd - reference| <= 4 MCSE of the sd (+ slack)."""
    row = summary.loc[name]
    assert abs(row["sd"] - reference) <= 4 * row["mcse_sd"] + slack, (
        f"{name}: sd {row['sd']:.4f} vs reference {reference:.4f} (mcse_sd {row['mcse_sd']:.4f})")


def assert_covers_truth(summary, truth: dict[str, float]) -> None:
    """Each true value lies within 4 posterior sd of the posterior mean."""
    for name, value in truth.items():
        row = summary.loc[name]
        assert abs(row["mean"] - value) <= 4 * row["sd"], (
            f"{name}: posterior {row['mean']:.3f} ± {row['sd']:.3f}, truth {value}")


# -- eight schools --------------------------------------------------------------------
def test_eight_schools_reference_is_converged(load):
    es = load("eight_schools")
    coarse, fine = es.reference_posterior(), es.reference_posterior(1051, 4001)
    for name in ("mu", "tau"):
        np.testing.assert_allclose(coarse[name], fine[name], atol=2e-4)
    # The well-known values (posteriordb's eight_schools_noncentered reference draws).
    np.testing.assert_allclose(coarse["mu"], (4.40, 3.32), atol=0.01)
    np.testing.assert_allclose(coarse["tau"], (3.60, 3.22), atol=0.01)


@pytest.mark.numpyro
def test_eight_schools_numpyro_noncentered_matches_exact_and_centered_diverges(load):
    es = load("eight_schools")
    res = es.main(["--backend", "numpyro", "--chains", "4", "--warmup", "500", "--draws", "500",
                   "--seed", "0"])
    ref, nc, c = res["reference"], res["noncentered"]["summary"], res["centered"]["summary"]
    assert_mean_near(nc, "mu", ref["mu"][0], slack=1e-3)
    assert_sd_near(nc, "mu", ref["mu"][1], slack=1e-3)
    assert_mean_near(nc, "tau", ref["tau"][0], slack=1e-3)
    assert (nc.loc[["mu", "tau"], "r_hat"] < 1.05).all()
    assert set(res["divergences"]) == {"centered", "noncentered"}
    # The funnel: the centered model diverges and mixes worse in tau.
    assert res["divergences"]["centered"] > res["divergences"]["noncentered"]
    assert c.loc["tau", "ess_bulk"] < nc.loc["tau", "ess_bulk"]
    # theta is a deterministic site in the non-centered model; both report it per school.
    assert res["noncentered"]["posterior"]["theta"].shape == (4, 500, 8)
    assert "school" in res["noncentered"]["idata"].posterior["theta"].dims


@pytest.mark.pyro
def test_eight_schools_pyro_noncentered_matches_exact(load, tmp_path):
    es = load("eight_schools")
    res = es.main(["--backend", "pyro", "--param", "noncentered", "--chains", "2",
                   "--warmup", "100", "--draws", "100", "--seed", "1", "--out", str(tmp_path)])
    assert "centered" not in res and set(res["divergences"]) == {"noncentered"}
    nc, ref = res["noncentered"]["summary"], res["reference"]
    assert_mean_near(nc, "mu", ref["mu"][0], slack=1e-3)
    assert_mean_near(nc, "tau", ref["tau"][0], slack=1e-3)
    assert res["noncentered"]["posterior"].backend == "pyro"
    assert (tmp_path / "summary_noncentered.csv").read_text().startswith(",mean,sd")


# -- linear regression ------------------------------------------------------------------
def _check_linear_regression(res: dict, variants: tuple[str, ...]) -> None:
    truth = res["truth"]
    if "known" in variants:
        known = res["known"]["summary"]
        names = ["alpha"] + [f"beta[{j}]" for j in range(3)]
        for name, mean, sd in zip(names, res["known"]["exact_mean"], res["known"]["exact_sd"]):
            assert_mean_near(known, name, mean)
            assert_sd_near(known, name, sd)
        assert_covers_truth(known, {k: v for k, v in truth.items() if k != "sigma"})
        assert "sigma" not in res["known"]["posterior"].samples  # a constant, not a latent
    if "unknown" in variants:
        assert_covers_truth(res["unknown"]["summary"], truth)


@pytest.mark.numpyro
def test_linear_regression_numpyro_unknown_noise(load):
    lr = load("linear_regression")
    res = lr.main(["--backend", "numpyro", "--noise", "unknown", "--chains", "2", "--warmup",
                   "300", "--draws", "500"])
    assert "known" not in res
    _check_linear_regression(res, ("unknown",))


@pytest.mark.slow
@pytest.mark.numpyro
def test_linear_regression_numpyro_both_variants(load):
    lr = load("linear_regression")
    res = lr.main(["--backend", "numpyro", "--chains", "4", "--warmup", "500", "--draws", "1000"])
    _check_linear_regression(res, ("known", "unknown"))


@pytest.mark.pyro
def test_linear_regression_pyro_matches_conjugate_posterior(load):
    lr = load("linear_regression")
    res = lr.main(["--backend", "pyro", "--noise", "known", "--chains", "2", "--warmup", "100",
                   "--draws", "150"])
    assert "unknown" not in res
    _check_linear_regression(res, ("known",))


@pytest.mark.slow
@pytest.mark.pyro
def test_linear_regression_pyro_unknown_noise(load):
    lr = load("linear_regression")
    res = lr.main(["--backend", "pyro", "--noise", "unknown", "--chains", "2", "--warmup", "200",
                   "--draws", "300"])
    _check_linear_regression(res, ("unknown",))


# -- logistic regression ----------------------------------------------------------------
def _check_logistic_synthetic(res: dict) -> None:
    alpha, beta = res["truth"]
    assert np.all(np.abs(res["beta_mean"] - beta) <= 4 * res["beta_sd"])
    assert abs(res["alpha_mean"] - alpha) <= 4 * res["summary"].loc["alpha", "sd"]
    # Held-out accuracy near that of the true coefficients, far above guessing.
    assert res["accuracy"] >= res["reference_accuracy"] - 0.05
    assert res["accuracy"] >= 0.7


@pytest.mark.numpyro
def test_logistic_regression_numpyro_synthetic(load):
    lg = load("logistic_regression")
    res = lg.main(["--backend", "numpyro", "--chains", "2", "--warmup", "300", "--draws", "300"])
    _check_logistic_synthetic(res)
    assert res["reference"] == "true coefficients"


@pytest.mark.slow
@pytest.mark.pyro
def test_logistic_regression_pyro_synthetic(load):
    lg = load("logistic_regression")
    res = lg.main(["--backend", "pyro", "--chains", "2", "--warmup", "150", "--draws", "150"])
    _check_logistic_synthetic(res)


@pytest.mark.slow
@pytest.mark.numpyro
def test_logistic_regression_breast_cancer(load):
    lg = load("logistic_regression")
    res = lg.main(["--data", "breast_cancer", "--chains", "2", "--warmup", "300", "--draws", "300"])
    assert res["beta_mean"].shape == (30,) and res["truth"] is None
    assert res["accuracy"] >= 0.93
    assert res["accuracy"] >= res["reference_accuracy"] - 0.03


# -- the pipeline ---------------------------------------------------------------------
def _check_pipeline(res: dict, out: Path) -> None:
    files = res["files"]
    expected = {"model_table", "graph", "graph_dot", "backend_check", "summary_csv",
                "summary_txt", "trace", "posterior", "prior_ppc", "ppc", "loo", "manifest"}
    assert set(files) == expected
    for name, path in files.items():
        assert Path(path).parent == out and Path(path).stat().st_size > 0, name
    for name in ("trace", "posterior", "prior_ppc", "ppc"):
        assert Path(files[name]).read_bytes()[:8] == PNG_SIGNATURE, name
    graph = Path(files["graph"])
    if graph.suffix == ".png":  # graphviz installed
        assert graph.read_bytes()[:8] == PNG_SIGNATURE
    else:
        assert graph.name == "model.png.dot" and graph.read_text().startswith("digraph")
    assert "cluster_group" in Path(files["graph_dot"]).read_text()
    assert "a_raw" in Path(files["model_table"]).read_text()
    assert not [p for p in os.listdir(out) if p.startswith(".tmp-")]  # no partial files

    manifest = json.loads(Path(files["manifest"]).read_text())
    assert set(manifest["files"].values()) == {Path(p).name for p in files.values()}
    assert manifest["divergences"] == res["divergences"]

    # The two backends compute the same density (float32 round-off only).
    assert len(res["backend_check"]) == 3
    assert res["backend_worst"]["rel_diff"] < 1e-4
    assert res["backend_worst"]["grad_rel_diff"] < 1e-3
    assert res["backend_worst"]["unconstrained_rel_diff"] < 1e-5

    import pandas as pd

    summary = pd.read_csv(files["summary_csv"], index_col=0)
    assert list(summary.index) == list(res["truth"]) + [f"a[{j}]" for j in range(8)]
    assert_covers_truth(summary, res["truth"])
    assert_covers_truth(summary, {f"a[{j}]": a for j, a in enumerate(res["data"]["a"])})
    assert (summary["r_hat"] < 1.1).all()

    idata = res["idata"]
    for group in ("posterior", "prior", "prior_predictive", "posterior_predictive",
                  "log_likelihood", "observed_data"):
        assert group in idata.groups(), group
    assert idata.log_likelihood["y"].dims[-1] == "obs"
    loo = res["loo"]
    assert np.isfinite(loo.elpd_loo) and np.max(loo.pareto_k.values) < 0.7
    assert f"{loo.elpd_loo:.2f}" in Path(files["loo"]).read_text()


@pytest.mark.numpyro
@pytest.mark.pyro  # compiles on Pyro too, for the log-density check
def test_pipeline_writes_everything_it_promises(load, tmp_path):
    pipeline = load("pipeline")
    out = tmp_path / "pipeline"
    res = pipeline.main(["--out", str(out), "--chains", "2", "--warmup", "200", "--draws", "200",
                         "--check-points", "3"])
    assert res["posterior"].backend == "numpyro"
    _check_pipeline(res, out)


@pytest.mark.slow
@pytest.mark.pyro
def test_pipeline_on_pyro(load, tmp_path):
    pipeline = load("pipeline")
    out = tmp_path / "pipeline"
    res = pipeline.main(["--backend", "pyro", "--out", str(out), "--chains", "2", "--warmup",
                         "150", "--draws", "150", "--check-points", "3"])
    assert res["posterior"].backend == "pyro"
    _check_pipeline(res, out)


# -- the command line and the shared helpers ----------------------------------------------
def _run_script(name: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    return subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("name", SCRIPTS)
def test_examples_take_the_common_flags(load, capsys, name):
    main = load(name).main
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    usage = capsys.readouterr().out
    for flag in ("--backend", "--chains", "--warmup", "--draws", "--seed", "--out"):
        assert flag in usage
    with pytest.raises(SystemExit) as exit_info:
        main(["--backend", "stan"])
    assert exit_info.value.code == 2 and "invalid choice: 'stan'" in capsys.readouterr().err


def test_scripts_run_as_scripts():
    # As a script, an example finds _common through its own folder, not through tests.
    result = _run_script("pipeline", "--help")
    assert result.returncode == 0, result.stderr
    assert "--check-points" in result.stdout


@pytest.mark.slow
@pytest.mark.numpyro
def test_eight_schools_runs_from_the_command_line(tmp_path):
    result = _run_script("eight_schools", "--chains", "1", "--warmup", "100", "--draws", "100",
                         "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "centered vs non-centered" in result.stdout
    assert {p.name for p in tmp_path.iterdir()} == {
        "summary_centered.csv", "summary_noncentered.csv", "comparison.txt"}
