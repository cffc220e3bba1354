"""ppl.amortize: NPE / NPSE against exact linear-Gaussian posteriors, supports, checkpoints, errors.

Small networks and budgets keep the default suite quick; the 10-d sbibm
gaussian_linear check with C2ST lives in test_amortized_slow.py. Posterior
tolerances: Monte Carlo error of the draws (4 sd / sqrt(draws)) plus an
allowance of 0.2 posterior sd for the network's own error at these tiny
budgets (a mean off by 0.2 sd is a C2ST of about 0.54).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import ppl
from ppl import dist
from ppl.errors import MethodError, ObservationError, ParameterError, ShapeError
from inference.amortized import AmortizedPosterior, NPEConfig, NPSEConfig, TrainingSettings

PRIOR_SD, NOISE_SD = 1.0, 0.5
QUICK = TrainingSettings(batch_size=100, lr=3e-3, max_epochs=40, patience=8)
SMALL_NPE = NPEConfig(num_layers=2, hidden_dim=32, num_bins=4, training=QUICK)
SMALL_NPSE = NPSEConfig(hidden_dim=64, num_blocks=2, num_steps=50,
                        training=TrainingSettings(batch_size=100, lr=3e-3, max_epochs=60, patience=15))
X_OBS = np.array([0.8, -0.5])


@ppl.model
def gaussian(dim):
    theta = ppl.sample("theta", dist.Normal(np.zeros(dim), PRIOR_SD).to_event(1))
    ppl.sample("x", dist.Normal(theta, NOISE_SD).to_event(1))


@ppl.model
def bounded():
    a = ppl.sample("a", dist.Uniform(0.0, 1.0))
    b = ppl.sample("b", dist.Uniform(-1.0, 2.0))
    ppl.sample("x", dist.Normal(ppl.ops.stack([a, b]), 0.3).to_event(1))


def exact_posterior(x):
    """Mean (d,) and sd of theta | x for the conjugate model above."""
    precision = 1 / PRIOR_SD**2 + 1 / NOISE_SD**2
    return (x / NOISE_SD**2) / precision, 1 / np.sqrt(precision)


def assert_matches_exact(draws, x):
    mean, sd = exact_posterior(x)
    tolerance = 4 * sd / np.sqrt(len(draws)) + 0.2 * sd
    np.testing.assert_array_less(np.abs(draws.mean(0) - mean), tolerance)
    np.testing.assert_array_less(np.abs(draws.std(0) / sd - 1), 0.2)
    assert abs(np.corrcoef(draws.T)[0, 1]) < 4 / np.sqrt(len(draws)) + 0.1


@pytest.fixture(scope="module")
def npe_numpyro():
    return ppl.amortize(gaussian(2).observe(x=X_OBS), to="flow", simulations=3000, backend="numpyro",
                        seed=0, config=SMALL_NPE)


@pytest.mark.numpyro
def test_npe_numpyro_recovers_exact_posterior(npe_numpyro):
    post = npe_numpyro.posterior(draws=4000, seed=1)  # x defaults to the model's observation
    assert post.samples["theta"].shape == (1, 4000, 2)
    assert_matches_exact(post.flat("theta"), X_OBS)
    idata = post.to_arviz()
    assert idata.posterior["theta"].shape == (1, 4000, 2)
    np.testing.assert_allclose(idata.observed_data["x"].values, X_OBS)


@pytest.mark.pyro
def test_npe_pyro_recovers_exact_posterior():
    q = ppl.amortize(gaussian(2), observed="x", to="flow", simulations=1500, backend="pyro", seed=1,
                     config=SMALL_NPE)
    x = np.array([-0.3, 1.1])
    assert_matches_exact(q.posterior(x=x, draws=4000, seed=2).flat("theta"), x)


@pytest.mark.numpyro
def test_npse_numpyro_recovers_exact_posterior():
    q = ppl.amortize(gaussian(2), observed="x", to="diffusion", simulations=3000, backend="numpyro", seed=0,
                     config=SMALL_NPSE)
    assert_matches_exact(q.posterior(x=X_OBS, draws=4000, seed=3).flat("theta"), X_OBS)


@pytest.mark.pyro
def test_npse_pyro_recovers_exact_posterior():
    """Also a regression test: under torch's float64 default (this folder's), the training
    noise once came out float64 against float32 weights."""
    q = ppl.amortize(gaussian(2), observed="x", to="diffusion", simulations=3000, backend="pyro", seed=0,
                     config=SMALL_NPSE)
    assert_matches_exact(q.posterior(x=X_OBS, draws=4000, seed=3).flat("theta"), X_OBS)


@pytest.mark.numpyro
def test_flow_log_prob_is_a_normalised_density_on_a_bounded_support():
    """Grid integral of q(a, b | x) over [0, 1] x [-1, 2] is 1: the support Jacobians are right."""
    config = dataclasses.replace(SMALL_NPE, support="transform")
    q = ppl.amortize(bounded(), observed="x", simulations=1500, backend="numpyro", seed=0, config=config)
    a, b = np.meshgrid(np.linspace(0, 1, 402)[1:-1], np.linspace(-1, 2, 402)[1:-1], indexing="ij")
    log_q = q.log_prob({"a": a.ravel(), "b": b.ravel()}, x=np.array([0.3, 1.5]))
    cell = (1 / 401) * (3 / 401)
    assert abs(np.exp(log_q).sum() * cell - 1) < 0.02
    far = q.sample(x=np.array([5.0, -6.0]), draws=2000, seed=0)  # x far outside what the prior makes
    assert (far["a"] > 0).all() and (far["a"] < 1).all() and (far["b"] > -1).all() and (far["b"] < 2).all()


@pytest.mark.numpyro
@pytest.mark.pyro
def test_checkpoint_round_trip_across_backends(npe_numpyro, tmp_path):
    npe_numpyro.save(tmp_path / "q")
    theta = {"theta": np.random.default_rng(0).normal(0.3, 0.5, (50, 2))}
    reference = npe_numpyro.to("numpyro", "float64").log_prob(theta, x=X_OBS)
    loaded = AmortizedPosterior.load(tmp_path / "q", backend="pyro", dtype="float64")
    np.testing.assert_allclose(loaded.log_prob(theta, x=X_OBS), reference, rtol=1e-5, atol=1e-5)
    assert loaded.num_simulations == 3000 and loaded.training_seconds == npe_numpyro.training_seconds
    single = AmortizedPosterior.load(tmp_path / "q", backend="pyro")  # float32 on each backend
    np.testing.assert_allclose(single.log_prob(theta, x=X_OBS), reference, atol=1e-4)


@pytest.mark.numpyro
def test_bad_input_is_reported_before_training(npe_numpyro):
    model = gaussian(2).observe(x=X_OBS)
    with pytest.raises(ShapeError, match="site 'x'.*shape \\(3,\\)"):
        npe_numpyro.posterior(x=np.zeros(3))
    with pytest.raises(ObservationError, match="site 'y'.*not a site"):
        ppl.amortize(model, observed="y")
    with pytest.raises(ObservationError, match="site 'theta'.*latent"):
        ppl.amortize(model, observed="theta")
    with pytest.raises(MethodError, match="to='gan'"):
        ppl.amortize(model, to="gan")
    with pytest.raises(ParameterError, match="NPSEConfig"):
        ppl.amortize(model, to="diffusion", config=NPEConfig())
    with pytest.raises(ObservationError, match="NaN"):
        npe_numpyro.posterior(x=np.array([np.nan, 0.0]))
    with pytest.raises(MethodError, match="log_prob needs a flow"):
        from inference.amortized.estimators import ESTIMATORS

        ESTIMATORS["npse"].log_prob(None, None, None)


@ppl.model
def discrete():
    k = ppl.sample("k", dist.Bernoulli(0.3))
    ppl.sample("x", dist.Normal(k, 1.0))


def test_discrete_parameters_are_refused():
    with pytest.raises(MethodError, match="site 'k'.*discrete"):
        ppl.amortize(discrete(), observed="x")
