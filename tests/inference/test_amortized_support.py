"""Amortized draws respect the prior support: ``support="reject"`` and ``support="transform"``.

Reference: a ~ Uniform(0, 1), b ~ Uniform(-1, 2), x ~ N((a, b), 0.3^2 I), so
a | x and b | x are independent normals N(x, 0.3^2) truncated to the prior's
interval (scipy's truncnorm). Tolerances as in test_amortized.py: Monte Carlo
error (4 sd / sqrt(draws)) plus 0.2 posterior sd for the small network.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats

import ppl
from ppl import dist
from ppl.errors import MethodError, ParameterError
from inference.amortized import AmortizedPosterior, NPEConfig, TrainingSettings
from inference.amortized.layout import ThetaLayout
from inference.amortized.rejection import rejection_draws
from inference.amortized.support import Bijection

NOISE = 0.3
BOUNDS = {"a": (0.0, 1.0), "b": (-1.0, 2.0)}
X_NEAR_BOUND = np.array([0.9, 1.7])  # both posteriors sit against their upper bound
SMALL = NPEConfig(num_layers=2, hidden_dim=32, num_bins=4,
                  training=TrainingSettings(batch_size=100, lr=3e-3, max_epochs=40, patience=8))


@ppl.model
def bounded():
    a = ppl.sample("a", dist.Uniform(*BOUNDS["a"]))
    b = ppl.sample("b", dist.Uniform(*BOUNDS["b"]))
    ppl.sample("x", dist.Normal(ppl.ops.stack([a, b]), NOISE).to_event(1))


def truncated_posterior(site, x):
    low, high = BOUNDS[site]
    return stats.truncnorm((low - x) / NOISE, (high - x) / NOISE, loc=x, scale=NOISE)


@pytest.fixture(scope="module", params=["reject", "transform"])
def trained(request):
    config = dataclasses.replace(SMALL, support=request.param)
    return ppl.amortize(bounded(), observed="x", simulations=2000, backend="numpyro", seed=0, config=config)


@pytest.mark.numpyro
def test_draws_lie_in_the_support_and_match_the_truncated_posterior(trained):
    post = trained.posterior(x=X_NEAR_BOUND, draws=4000, seed=1)
    for site, x in zip("ab", X_NEAR_BOUND):
        draws, exact = post.flat(site).ravel(), truncated_posterior(site, x)
        low, high = BOUNDS[site]
        assert ((draws > low) & (draws < high)).all()
        tolerance = 4 * exact.std() / np.sqrt(len(draws)) + 0.2 * exact.std()
        assert abs(draws.mean() - exact.mean()) < tolerance, (site, draws.mean(), exact.mean())
        assert abs(draws.std() / exact.std() - 1) < 0.2
    acceptance = post.extras["support_acceptance"]
    assert 0.5 < acceptance <= 1.0 and (acceptance == 1.0) == (trained.config.support == "transform")


@pytest.mark.numpyro
def test_log_prob_is_normalised_on_the_support(trained):
    """Grid integral over [0, 1] x [-1, 2] is 1 (reject: truncated and renormalised by its mass inside)."""
    a, b = np.meshgrid(np.linspace(0, 1, 302)[1:-1], np.linspace(-1, 2, 302)[1:-1], indexing="ij")
    log_q = trained.log_prob({"a": a.ravel(), "b": b.ravel()}, x=np.array([0.3, 1.5]))
    assert abs(np.exp(log_q).sum() * (1 / 301) * (3 / 301) - 1) < 0.02
    outside = trained.log_prob({"a": np.array([1.2, 0.5]), "b": np.array([0.0, -1.5])}, x=np.array([0.3, 1.5]))
    if trained.config.support == "reject":
        assert np.all(outside == -np.inf)


@pytest.mark.numpyro
def test_support_mode_survives_a_checkpoint(trained, tmp_path):
    trained.save(tmp_path / "q")
    loaded = AmortizedPosterior.load(tmp_path / "q")
    assert loaded.theta.support == trained.config.support == loaded.config.support
    np.testing.assert_allclose(loaded.sample(x=X_NEAR_BOUND, draws=500, seed=2)["a"],
                               trained.sample(x=X_NEAR_BOUND, draws=500, seed=2)["a"])


def test_old_checkpoints_without_a_mode_were_transformed():
    layout = ThetaLayout(("a",), ((),), (Bijection("sigmoid", 0.0, 1.0),), "reject")
    data = layout.to_json()
    del data["support"]
    assert ThetaLayout.from_json(data).support == "transform"


def _normal_proposals(size, seed):
    return np.random.default_rng(seed).standard_normal((size, 1))


def test_rejection_keeps_inside_draws_and_estimates_the_acceptance():
    inside = lambda z: z[:, 0] > -1.0  # P = Phi(1) = 0.841
    draws, acceptance = rejection_draws(_normal_proposals, inside, 5000, seed=0, round_size=1000)
    assert draws.shape == (5000, 1) and (draws > -1.0).all()
    proposed = 1000 * np.ceil(5000 / 0.84 / 1000)
    assert abs(acceptance - stats.norm.cdf(1.0)) < 4 * np.sqrt(0.84 * 0.16 / proposed)


def test_high_leakage_warns_and_hopeless_leakage_stops():
    with pytest.warns(RuntimeWarning, match=r"only \d+\.\d% of the amortized draws"):
        draws, acceptance = rejection_draws(_normal_proposals, lambda z: z[:, 0] > 1.5, 300, 0, 1000)
    assert (draws > 1.5).all() and acceptance < 0.1
    with pytest.raises(MethodError, match="inside the prior support.*support='transform'"):
        rejection_draws(_normal_proposals, lambda z: z[:, 0] > 4.5, 100, 0, 1000)  # P = 3.4e-6


def test_unknown_support_mode_is_refused():
    with pytest.raises(ParameterError, match="support 'clip'"):
        NPEConfig(support="clip")
