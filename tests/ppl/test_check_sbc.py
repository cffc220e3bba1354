"""Simulation-based calibration: passes exact posteriors, flags wrong ones, runs any method.

The reference is the conjugate normal model of ``ppl.testing`` (mu ~ N(1, 2),
y_i ~ N(mu, sigma)), whose posterior is known in closed form, so a correct
and a deliberately too-narrow posterior can be drawn without inference.
"""
from __future__ import annotations

import numpy as np
import pytest

import ppl
from inference.posterior import Posterior
from ppl.check.sbc import ranks_of, uniformity_tests
from ppl.testing import normal_normal

NUM_OBS, SIGMA = 4, 2.0


def exact_posterior(width: float = 1.0, shift: float = 0.0, draws: int = 100, seed: int = 1):
    """``observed -> Posterior`` drawing the conjugate posterior, widened/shifted (in sd units)."""
    rng = np.random.default_rng(seed)
    precision = 1 / 2.0**2 + NUM_OBS / SIGMA**2

    def posterior(observed: dict) -> Posterior:
        mean = (1.0 / 2.0**2 + observed["y"].sum() / SIGMA**2) / precision
        sd = 1 / np.sqrt(precision)
        mu = mean + shift * sd + width * sd * rng.normal(size=(1, draws))
        return Posterior({"mu": mu}, {}, "exact", "numpyro", None, {}, None)

    return posterior


@pytest.fixture(scope="module")
def model():
    return normal_normal(NUM_OBS, SIGMA)


def test_exact_posterior_passes(model):
    result = ppl.check.sbc(model, observed="y", infer=exact_posterior(), num_simulations=200,
                           draws_per_posterior=100, backend="pyro", seed=0)
    assert result.calibrated, result.summary()
    assert result.ranks.shape == (200, 1) and result.labels == ("mu",)
    assert result.ranks.min() >= 0 and result.ranks.max() <= 100
    # Mean normalised rank of a uniform: 0.5 with sd sqrt(1/12 / 200).
    assert abs(result.ranks.mean() / 100 - 0.5) < 4 * np.sqrt(1 / 12 / 200)


@pytest.mark.parametrize("width, shift", [(0.5, 0.0), (1.0, 1.0), (2.0, 0.0)])
def test_miscalibrated_posterior_is_flagged(model, width, shift):
    result = ppl.check.sbc(model, observed="y", infer=exact_posterior(width, shift),
                           num_simulations=200, backend="pyro", seed=0)
    assert not result.calibrated and result.flagged == ("mu",)
    table = result.summary()
    assert list(table.index) == ["mu"] and not table.loc["mu", "calibrated"]
    assert "miscalibrated: mu" in repr(result)


def test_uniformity_tests_hold_their_level():
    """Under calibration, p < 0.05 in about 5% of repeated tests (binomial tolerance)."""
    rng = np.random.default_rng(3)
    truths, draws = rng.normal(size=(100, 400)), rng.normal(size=(100, 50, 400))
    tests = uniformity_tests(ranks_of(truths, draws, rng), 50, 10, rng)
    for key in ("chi2_pvalue", "ks_pvalue"):
        rate = (tests[key] < 0.05).mean()
        assert abs(rate - 0.05) < 4 * np.sqrt(0.05 * 0.95 / 400), (key, rate)


def test_ties_of_discrete_parameters_are_spread():
    rng = np.random.default_rng(0)
    ranks = ranks_of(np.zeros((4000, 1)), np.zeros((4000, 9, 1)), rng)
    counts = np.bincount(ranks[:, 0], minlength=10)
    assert counts.shape == (10,)
    assert np.all(np.abs(counts - 400) < 4 * np.sqrt(4000 * 0.1 * 0.9))


def test_thinning_and_plots(model, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    result = ppl.check.sbc(model, observed="y", infer=exact_posterior(draws=300),
                           num_simulations=60, draws_per_posterior=30, seed=2)
    assert result.num_draws == 30 and result.ranks.max() <= 30
    assert result.runs.draws.shape == (60, 300, 1) and result.runs.truths.shape == (60, 1)
    axes = result.plot()
    low, high = ppl.check.plots.uniform_band(60, result.bins)
    assert low < 60 / result.bins < high
    axes[0].figure.savefig(tmp_path / "ranks.png")
    assert (tmp_path / "ranks.png").stat().st_size > 0


@ppl.model
def doubled():
    mu = ppl.sample("mu", ppl.dist.Normal(0.0, 1.0))
    y = ppl.sample("y", ppl.dist.Normal(mu, 1.0))
    ppl.deterministic("d", 2.0 * y)


def test_a_callable_may_condition_on_a_deterministic_output():
    rng = np.random.default_rng(5)

    def posterior(observed):  # mu | y ~ N(y / 2, 1 / 2) with y = d / 2
        return {"mu": observed["d"] / 4 + np.sqrt(0.5) * rng.normal(size=(1, 100))}

    result = ppl.check.sbc(doubled(), observed="d", parameters=["mu"], infer=posterior,
                           num_simulations=150, backend="pyro")
    assert result.labels == ("mu",) and result.calibrated, result.summary()
    with pytest.raises(ppl.ObservationError, match="'d'.*not a latent site"):
        ppl.check.sbc(doubled(), observed="d", infer="is", num_simulations=5)


def test_bad_input_is_reported(model):
    with pytest.raises(ppl.ObservationError, match="'x'.*not a latent or deterministic site"):
        ppl.check.sbc(model, observed="x", infer=exact_posterior(), num_simulations=10)
    with pytest.raises(ppl.ObservationError, match="'sigma'"):
        ppl.check.sbc(model, observed="y", infer=exact_posterior(), parameters=["sigma"],
                      num_simulations=10)
    with pytest.raises(ppl.ParameterError, match="at least 2"):
        ppl.check.sbc(model, observed="y", infer=exact_posterior(), num_simulations=1)
    with pytest.raises(ppl.MethodError, match="no draws of mu"):
        ppl.check.sbc(model, observed="y", infer=lambda obs: {"nu": np.zeros((1, 5))},
                      num_simulations=3)


@pytest.mark.pyro
def test_sbc_runs_a_registered_method(model):
    """Any ppl.infer method plugs in by name: prior importance sampling is exact enough here."""
    result = ppl.check.sbc(model, observed="y", infer="is", backend="pyro",
                           infer_options={"proposals": 2000, "draws": 50}, num_simulations=8,
                           seed=0)
    assert result.ranks.shape == (8, 1) and result.runs.draws.shape == (8, 50, 1)
    assert result.calibrated, result.summary()
    # Each run's posterior mean sits within 4 MCSE of the exact one (>= 20 effective draws).
    precision = 1 / 4 + NUM_OBS / SIGMA**2
    exact = (1 / 4 + result.runs.observed["y"].sum(1) / SIGMA**2) / precision
    error = result.runs.draws[:, :, 0].mean(1) - exact
    assert np.all(np.abs(error) < 4 / np.sqrt(precision * 20)), error


@pytest.mark.slow
@pytest.mark.numpyro
def test_sbc_of_nuts_thins_its_chains(model):
    result = ppl.check.sbc(model, observed="y", infer="nuts", num_simulations=20,
                           draws_per_posterior=40,
                           infer_options={"chains": 1, "warmup": 100, "draws": 200}, seed=1)
    assert result.num_draws == 40 and result.runs.draws.shape == (20, 200, 1)
    assert np.all(np.isfinite(result.runs.ess))
    assert result.calibrated, result.summary()


@pytest.mark.slow
def test_sbc_of_an_amortized_posterior(model):
    """Amortized posteriors plug in as a callable; calibrated when NPE has learned the posterior."""
    q = ppl.amortize(model, observed="y", to="flow", simulations=5000, seed=0)
    result = ppl.check.sbc(model, observed="y", num_simulations=100, draws_per_posterior=100,
                           infer=lambda obs: q.posterior(x=obs["y"], draws=100, seed=0), seed=2)
    assert result.calibrated, result.summary()
    assert result.tarp().calibrated()
