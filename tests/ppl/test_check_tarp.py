"""TARP expected coverage: on the diagonal for exact posteriors, off it for wrong ones.

Reference: theta ~ N(0, I_2), x ~ N(theta, s^2 I), whose posterior is Gaussian
with known mean and sd, so exact and deliberately wrong posterior draws are
cheap to make.
"""
from __future__ import annotations

import numpy as np
import pytest

import ppl

NUM_SIMS, NUM_DRAWS, NOISE = 300, 200, 0.5


def gaussian_runs(width: float = 1.0, shift: float = 0.0, seed: int = 0):
    """Truths (n, 2) and posterior draws (n, L, 2), widened/shifted in posterior sd units."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=(NUM_SIMS, 2))
    x = theta + NOISE * rng.normal(size=theta.shape)
    precision = 1 + 1 / NOISE**2
    mean, sd = x / NOISE**2 / precision, 1 / np.sqrt(precision)
    draws = mean[:, None] + sd * (shift + width * rng.normal(size=(NUM_SIMS, NUM_DRAWS, 2)))
    return draws, theta


def test_exact_posterior_is_on_the_diagonal():
    result = ppl.check.tarp(*gaussian_runs())
    assert result.calibrated() and result.ks_pvalue > 0.01
    # Under calibration ECP(alpha) is a binomial proportion: sd sqrt(a (1 - a) / n) <= 0.5 / sqrt(n).
    assert np.max(np.abs(result.ecp - result.alpha)) < 4 * 0.5 / np.sqrt(NUM_SIMS)
    assert abs(result.atc) < 4 * 0.25 / np.sqrt(NUM_SIMS)
    assert result.ecp[0] == 0.0 and result.ecp[-1] == 1.0


@pytest.mark.parametrize("width, shift, sign", [(0.4, 0.0, -1), (2.5, 0.0, +1), (1.0, 2.0, 0)])
def test_wrong_posteriors_are_off_the_diagonal(width, shift, sign):
    result = ppl.check.tarp(*gaussian_runs(width, shift))
    assert not result.calibrated() and result.ks_pvalue < 1e-3
    if sign:  # too narrow: coverage below the diagonal; too wide: above
        # Null sd of ATC <= (1/2) * 0.5 / sqrt(n): the ECP error integrated over half the levels.
        assert np.sign(result.atc) == sign and abs(result.atc) > 3 * 0.25 / np.sqrt(NUM_SIMS)


def test_tarp_from_an_sbc_run_and_plot(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    draws, theta = gaussian_runs()
    runs = ppl.check.Runs(("a", "b"), theta, draws, np.full(NUM_SIMS, np.nan))
    sbc = ppl.check.sbc_from_runs(runs)
    assert sbc.calibrated
    result = sbc.tarp(seed=1)
    assert result.coverage.shape == (NUM_SIMS,) and result.calibrated()
    assert list(result.summary().columns) == ["atc", "ks", "ks_pvalue", "num_simulations"]
    result.plot().figure.savefig(tmp_path / "tarp.png")
    assert (tmp_path / "tarp.png").stat().st_size > 0


def test_shapes_are_checked():
    with pytest.raises(ppl.ShapeError, match="num_simulations, num_draws, dim"):
        ppl.check.tarp(np.zeros((5, 10)), np.zeros((5, 2)))
    with pytest.raises(ppl.ShapeError):
        ppl.check.tarp(np.zeros((5, 10, 2)), np.zeros((4, 2)))
