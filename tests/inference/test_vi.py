"""SVI against exact Gaussian posteriors, learned parameters and the PSIS diagnostic.

A full-rank Gaussian guide contains the exact posterior of a linear-Gaussian
model, so its error is optimisation error only. With Adam the iterates
fluctuate by about the learning rate per step around the optimum; the schedule
ends at lr_final, so we allow 10 lr_final on the guide's mean, plus the
Monte Carlo error 4 sd / sqrt(draws) for moments of the guide's draws.
"""
import numpy as np
import pytest
import scipy.stats as st
from scipy.optimize import minimize_scalar

import ppl
from ppl import dist
from ppl.testing import linear_regression

RNG = np.random.default_rng(11)
LR, STEPS = 0.02, 3000
LR_FINAL = LR * 0.1  # the "exponential" schedule decays to 10%



@ppl.model
def normal_unknown_scale(n):
    mu = ppl.sample("mu", dist.Normal(0.0, 3.0))
    sigma = ppl.param("sigma", 1.0, ppl.constraints.positive)
    with ppl.plate("obs", n):
        ppl.sample("y", dist.Normal(mu, sigma))


def _exact_regression(x, y, sigma):
    cov = np.linalg.inv(np.eye(x.shape[1]) / 1.5 ** 2 + x.T @ x / sigma ** 2)
    return cov @ x.T @ y / sigma ** 2, cov


def test_full_rank_guide_is_exact_on_linear_gaussian_model():
    x = RNG.normal(size=(25, 3))
    y = x @ np.array([1.0, -0.5, 0.25]) + 0.7 * RNG.normal(size=25)
    mean, cov = _exact_regression(x, y, 0.7)
    post = ppl.infer(linear_regression(x, 0.7).observe(y=y), method="svi", guide="mvn",
                     steps=STEPS, learning_rate=LR, tol=0, draws=2000, progress=False)
    loc = post.extras["guide_params"]["auto_loc"]
    assert np.all(np.abs(loc - mean) < 10 * LR_FINAL), (loc, mean)
    tril = post.extras["guide_params"]["auto_scale_tril"]
    assert np.allclose(tril @ tril.T, cov, rtol=0.1, atol=10 * LR_FINAL * np.sqrt(np.diag(cov)).max())
    draws, sd = post.flat("w"), np.sqrt(np.diag(cov))
    assert np.all(np.abs(draws.mean(0) - mean) < 10 * LR_FINAL + 4 * sd / np.sqrt(2000))
    assert post.flat("w").shape == (2000, 3) and post["w"].shape == (1, 2000, 3)
    # An exact guide makes the importance weights almost constant.
    assert post.extras["pareto_k"] < 0.7 and post.notes == []
    truth = st.multivariate_normal(np.zeros(25), 0.49 * np.eye(25) + 2.25 * x @ x.T).logpdf(y)
    assert abs(post.log_evidence - truth) < 0.05
    assert len(post.extras["loss"]) == STEPS


@pytest.mark.parametrize("backend,objective", [("pyro", "elbo"), ("numpyro", "iwelbo")])
def test_learned_parameter_is_type_two_maximum_likelihood(backend, objective):
    y = RNG.normal(2.0, 0.5, size=30)

    def neg_evidence(log_s):
        cov = 9.0 * np.ones((30, 30)) + np.exp(2 * log_s) * np.eye(30)
        return -st.multivariate_normal(np.zeros(30), cov).logpdf(y)

    s_hat = np.exp(minimize_scalar(neg_evidence, bounds=(-3, 2), method="bounded").x)
    post = ppl.infer(normal_unknown_scale(30).observe(y=y), method="svi", backend=backend,
                     objective=objective, num_particles=4, steps=2000, learning_rate=0.05,
                     progress=False, seed=2)
    sigma = float(post.extras["params"]["sigma"])
    # The ML-II estimate has sampling sd ~ s / sqrt(2n); optimisation must get well inside it.
    assert abs(sigma - s_hat) < 0.25 * s_hat / np.sqrt(60), (sigma, s_hat)
    prec = 1 / 9 + 30 / sigma ** 2
    mu_mean, mu_sd = y.sum() / sigma ** 2 / prec, prec ** -0.5
    draws = post.flat("mu")
    assert abs(draws.mean() - mu_mean) < 4 * mu_sd / np.sqrt(len(draws)) + 10 * 0.005
    if objective == "elbo":  # the IW-ELBO's optimal guide is deliberately wider
        assert abs(draws.std() / mu_sd - 1) < 0.15


def test_mean_field_guide_on_correlated_posterior_warns():
    base = RNG.normal(size=40)
    x = np.stack([base, base + 0.02 * RNG.normal(size=40)], axis=1)
    y = x @ np.array([1.0, 1.0]) + 0.5 * RNG.normal(size=40)
    with pytest.warns(RuntimeWarning, match="k-hat"):
        post = ppl.infer(linear_regression(x, 0.5).observe(y=y), method="svi", backend="pyro",
                         guide="normal", steps=1500, learning_rate=0.05, progress=False)
    assert post.extras["pareto_k"] > 0.7
    assert any("k-hat" in note for note in post.notes)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["numpyro", "pyro"])
@pytest.mark.parametrize("guide", ["normal", "mvn", "lowrank"])
def test_every_guide_recovers_regression_means(backend, guide):
    x = RNG.normal(size=(25, 3))
    y = x @ np.array([1.0, -0.5, 0.25]) + 0.7 * RNG.normal(size=25)
    mean, cov = _exact_regression(x, y, 0.7)
    post = ppl.infer(linear_regression(x, 0.7).observe(y=y), method="svi", backend=backend,
                     guide=guide, steps=STEPS, learning_rate=LR, tol=0, progress=False)
    draws, sd = post.flat("w"), np.sqrt(np.diag(cov))
    # Mean-field and low-rank guides match the mean of a Gaussian posterior, not its covariance.
    assert np.all(np.abs(draws.mean(0) - mean) < 0.1 * sd + 4 * sd / np.sqrt(len(draws)))


@pytest.mark.parametrize("backend", ["numpyro", "pyro"])
def test_flow_guide_recovers_linear_gaussian_posterior(backend):
    """An IAF guide contains the exact Gaussian posterior; after optimisation its
    draws must match the exact moments up to optimisation error (0.2 sd on means,
    20% on sds) plus Monte Carlo error of the draws."""
    x = np.random.default_rng(5).normal(size=(25, 3))
    y = x @ np.array([1.0, -0.5, 0.25]) + 0.7 * np.random.default_rng(6).normal(size=25)
    mean, cov = _exact_regression(x, y, 0.7)
    post = ppl.infer(linear_regression(x, 0.7).observe(y=y), method="svi", backend=backend,
                     guide="flow", steps=1500, learning_rate=0.01, draws=2000, progress=False,
                     seed=1)
    draws, sd = post.flat("w"), np.sqrt(np.diag(cov))
    assert np.all(np.abs(draws.mean(0) - mean) < 0.2 * sd + 4 * sd / np.sqrt(2000))
    assert np.all(np.abs(draws.std(0) / sd - 1) < 0.2 + 4 * np.sqrt(0.5 / 2000))
