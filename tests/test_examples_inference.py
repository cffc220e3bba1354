"""The SMC and VI examples run and get the right answers.

Tolerances come from Monte Carlo error:

- bimodal SMC: the mode weight P(theta > 0 | y) of independent SMC runs is
  compared with quadrature within 4 standard errors, the se being the spread
  of the runs' own estimates over sqrt(runs) (floored at the binomial error of
  i.i.d. draws); the log evidence within 4 of its standard errors.
- VI vs NUTS: every VI posterior mean lies within 3 NUTS posterior sds of the
  NUTS mean (mean-field VI is biased, but on this well-identified
  non-centered model by far less than that; its sds are what it gets wrong,
  which the example reports rather than the test pinning them), and NUTS
  covers the slopes that generated the data within 4 posterior sds.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def load(monkeypatch):
    """Imports an example by file name (examples/ is a folder of scripts, not a package)."""
    monkeypatch.syspath_prepend(str(EXAMPLES))  # the scripts import their sibling _common

    def _load(name: str):
        spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        # Registered like a real import, so dataclasses and pickling can find it.
        monkeypatch.setitem(sys.modules, spec.name, module)
        spec.loader.exec_module(module)
        return module

    return _load


# -- bimodal SMC ---------------------------------------------------------------------------
def test_bimodal_quadrature_is_converged(load):
    bm = load("bimodal_smc")
    y = bm.make_data()
    coarse, fine = bm.exact_posterior(y), bm.exact_posterior(y, 200_001)
    assert abs(coarse.weight_positive - fine.weight_positive) < 1e-6
    assert abs(coarse.log_evidence - fine.log_evidence) < 1e-6
    # Both modes matter, and the prior (mean 0.5) favours the positive one.
    assert 0.55 < coarse.weight_positive < 0.85


def _check_bimodal(res: dict, out: Path) -> None:
    exact, smc, nuts = res["exact"], res["smc"], res["nuts"]
    assert abs(smc["weight_positive"] - exact["weight_positive"]) < 4 * smc["weight_se"], (
        smc, exact)
    assert smc["weight_se"] < 0.05  # the check above must have teeth
    assert abs(smc["log_evidence"] - exact["log_evidence"]) < 4 * smc["log_evidence_se"] + 1e-3
    # Every SMC run holds both modes; every NUTS chain sits in exactly one.
    assert all(0 < w < 1 for w in smc["per_chain"])
    assert nuts["chains_stuck_in_one_mode"] == nuts["chains"]
    assert set(res["files"]) == {"plot", "summary"}
    assert Path(res["files"]["plot"]).read_bytes()[:8] == PNG_SIGNATURE
    summary = json.loads(Path(res["files"]["summary"]).read_text())
    assert summary["smc"]["weight_positive"] == pytest.approx(smc["weight_positive"])
    assert not [p for p in out.iterdir() if p.name.startswith(".tmp-")]


@pytest.mark.numpyro
def test_bimodal_smc_numpyro_recovers_mode_weights(load, tmp_path):
    bm = load("bimodal_smc")
    res = bm.main(["--particles", "1000", "--smc-chains", "8", "--chains", "4", "--warmup",
                   "150", "--draws", "150", "--seed", "1", "--out", str(tmp_path)])
    _check_bimodal(res, tmp_path)
    assert res["smc_posterior"]["theta"].shape == (8, 1000)


@pytest.mark.slow
@pytest.mark.pyro
def test_bimodal_smc_pyro_recovers_mode_weights(load, tmp_path):
    bm = load("bimodal_smc")
    res = bm.main(["--backend", "pyro", "--particles", "1000", "--smc-chains", "8", "--chains",
                   "2", "--warmup", "100", "--draws", "100", "--seed", "2", "--out",
                   str(tmp_path)])
    _check_bimodal(res, tmp_path)


def test_smc_weight_error_is_floored_at_iid_error(load):
    bm = load("bimodal_smc")
    mean, se = bm.smc_weight_estimate(np.full(4, 0.5), particles=100)
    assert mean == 0.5 and se == pytest.approx(np.sqrt(0.25 / 400))


# -- VI vs NUTS ------------------------------------------------------------------------------
def _check_vi_vs_nuts(res: dict) -> None:
    table = res["table"]
    assert len(table) == 1 + 1 + 3 + 8  # mu_alpha, sigma_alpha, beta[3], alpha[8]
    assert (table["z"].abs() < 3).all(), table
    assert np.isfinite(res["pareto_k"]) and (table["sd_ratio"] > 0).all()
    truth = res["truth"]
    for j, b in enumerate(truth["beta"]):
        row = table.loc[f"beta[{j}]"]
        assert abs(row["nuts_mean"] - b) < 4 * row["nuts_sd"]


@pytest.mark.numpyro
def test_vi_vs_nuts_numpyro(load, tmp_path):
    vn = load("vi_vs_nuts")
    res = vn.main(["--steps", "3000", "--chains", "2", "--warmup", "300", "--draws", "300",
                   "--out", str(tmp_path)])
    _check_vi_vs_nuts(res)
    assert set(res["files"]) == {"forest", "densities", "table", "summary"}
    for name in ("forest", "densities"):
        assert Path(res["files"][name]).read_bytes()[:8] == PNG_SIGNATURE
    assert json.loads(Path(res["files"]["summary"]).read_text())["pareto_k"] == pytest.approx(
        res["pareto_k"])
    assert "group" in res["vi_idata"].posterior["alpha"].dims


@pytest.mark.slow
@pytest.mark.pyro
def test_vi_vs_nuts_pyro(load):
    vn = load("vi_vs_nuts")
    res = vn.main(["--backend", "pyro", "--steps", "2000", "--chains", "2", "--warmup", "150",
                   "--draws", "150"])
    _check_vi_vs_nuts(res)
    assert res["files"] == {}


# -- flags -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, own_flag", [("bimodal_smc", "--particles"),
                                            ("vi_vs_nuts", "--guide")])
def test_examples_take_the_common_flags(load, capsys, name, own_flag):
    main = load(name).main
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    usage = capsys.readouterr().out
    for flag in ("--backend", "--chains", "--warmup", "--draws", "--seed", "--out", own_flag):
        assert flag in usage
