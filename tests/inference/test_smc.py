"""SMC and prior importance sampling: log evidence and posteriors against closed forms.

Evidence tolerances are Monte Carlo errors: |log Z - truth| < 4 se, where se
comes from the spread of independent runs (chains). Posterior moments use
the conjugate-test rule |mean - truth| < 4 sd / sqrt(ESS), with a
conservative ESS of one tenth of the particles (resampling and a finite
number of MCMC moves correlate SMC particles).
"""
import numpy as np
import pytest
import scipy.stats as st
from scipy.special import betaln, gammaln

import ppl
from ppl import dist
from ppl.errors import MethodError
from ppl.testing import normal_normal, beta_binomial, linear_regression

RNG = np.random.default_rng(7)
FAST = dict(particles=500, chains=4, progress=False, seed=3)





@ppl.model
def squared_observation(sigma):
    x = ppl.sample("x", dist.Normal(0.5, 1.5))
    ppl.sample("y", dist.Normal(x * x, sigma))


@ppl.model
def coin_or_not():
    k = ppl.sample("k", dist.Bernoulli(0.3))
    ppl.sample("y", dist.Normal(k * 1.0, 1.0))


def _check_evidence(post, truth):
    assert np.isfinite(post.log_evidence_se) and post.log_evidence_se > 0
    assert abs(post.log_evidence - truth) < 4 * post.log_evidence_se + 1e-3, (
        post.log_evidence, truth, post.log_evidence_se)


def _check_moment(draws, mean, sd, ess):
    assert abs(draws.mean() - mean) < 4 * sd / np.sqrt(ess), (draws.mean(), mean)


@pytest.mark.parametrize("backend", ["numpyro", "pyro"])
def test_normal_normal_evidence_and_posterior_agree_across_backends(backend):
    y = RNG.normal(2.5, 1.3, size=20)
    truth = st.multivariate_normal(np.ones(20), 4 * np.ones((20, 20)) + 1.3 ** 2 * np.eye(20)).logpdf(y)
    post = ppl.infer(normal_normal(20, 1.3).observe(y=y), method="smc", backend=backend, **FAST)
    _check_evidence(post, truth)
    prec = 1 / 4 + 20 / 1.3 ** 2
    _check_moment(post["mu"], (1 / 4 + y.sum() / 1.3 ** 2) / prec, prec ** -0.5, 4 * 500 / 10)
    assert post["mu"].shape == (4, 500)
    temps = post.extras["temperatures"]
    assert np.all(np.nanmax(temps, axis=1) == 1.0) and np.all(np.diff(temps[:, :2]) > 0)
    assert post.notes == []


def test_beta_binomial_evidence_and_posterior():
    n, k = 30, 11
    truth = gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1) + betaln(2 + k, 3 + n - k) - betaln(2, 3)
    post = ppl.infer(beta_binomial(n).observe(k=k), method="smc", backend="pyro",
                     resampling="stratified", **FAST)
    _check_evidence(post, truth)
    exact = st.beta(2 + k, 3 + n - k)
    _check_moment(post["p"], exact.mean(), exact.std(), 4 * 500 / 10)


def test_linear_regression_evidence_with_hmc_rejuvenation():
    x = RNG.normal(size=(25, 3))
    sigma = 0.7
    y = x @ np.array([1.0, -0.5, 0.25]) + sigma * RNG.normal(size=25)
    truth = st.multivariate_normal(np.zeros(25), sigma ** 2 * np.eye(25) + 1.5 ** 2 * x @ x.T).logpdf(y)
    post = ppl.infer(linear_regression(x, sigma).observe(y=y), method="smc", kernel="hmc",
                     resampling="multinomial", **FAST)
    _check_evidence(post, truth)
    cov = np.linalg.inv(np.eye(3) / 1.5 ** 2 + x.T @ x / sigma ** 2)
    mean = cov @ x.T @ y / sigma ** 2
    for j in range(3):
        _check_moment(post["w"][..., j], mean[j], np.sqrt(cov[j, j]), 4 * 500 / 10)
    assert np.nanmean(post.extras["acceptance"]) > 0.3


def test_bimodal_posterior_mode_weights():
    # y ~ N(x^2, 0.5) with y = 4: modes near +-2, weighted by the N(0.5, 1.5) prior.
    grid = np.linspace(-6, 6, 20001)
    joint = st.norm(0.5, 1.5).pdf(grid) * st.norm(grid ** 2, 0.5).pdf(4.0)
    z = np.trapezoid(joint, grid)
    p_right = np.trapezoid(np.where(grid > 0, joint, 0), grid) / z
    post = ppl.infer(squared_observation(0.5).observe(y=4.0), method="smc",
                     **{**FAST, "chains": 8})
    per_chain = (post["x"] > 0).mean(axis=1)
    # A chain's mode weight is one noisy estimate; their spread is its Monte Carlo error.
    se = max(per_chain.std(ddof=1), 0.01) / np.sqrt(len(per_chain))
    assert abs(per_chain.mean() - p_right) < 4 * se, (per_chain, p_right)
    assert 0.1 < p_right < 0.9  # both modes matter
    _check_evidence(post, np.log(z))


@pytest.mark.parametrize("backend", ["numpyro", "pyro"])
def test_importance_sampling_handles_discrete_latents(backend):
    y = 0.8
    truth = np.log(0.7 * st.norm(0, 1).pdf(y) + 0.3 * st.norm(1, 1).pdf(y))
    post = ppl.infer(coin_or_not().observe(y=y), method="is", backend=backend, proposals=4000,
                     seed=1)
    _check_evidence(post, truth)
    p1 = 0.3 * st.norm(1, 1).pdf(y) / np.exp(truth)
    assert abs(post["k"].mean() - p1) < 4 * np.sqrt(p1 * (1 - p1) / post.extras["ess"])


@pytest.mark.parametrize("method", ["smc", "svi"])
def test_discrete_latents_are_refused(method):
    with pytest.raises(MethodError, match="discrete"):
        ppl.infer(coin_or_not().observe(y=0.3), method=method, progress=False)


def test_collapsed_schedule_raises():
    y = RNG.normal(0.0, 0.01, size=200)
    with pytest.raises(MethodError, match="max_steps"):
        ppl.infer(normal_normal(200, 0.01).observe(y=y), method="smc", backend="pyro",
                  max_steps=2, **FAST)


def test_evidence_api_and_comparison_table():
    from inference.evidence import compare, evidence

    y = RNG.normal(1.0, 1.0, size=10)
    log_z, se = evidence(normal_normal(10, 1.0).observe(y=y), method="is",
                          backend="pyro", proposals=2000)
    assert np.isfinite(log_z) and se > 0
    table = compare({"right": normal_normal(10, 1.0).observe(y=y),
                     "too_narrow": normal_normal(10, 0.2).observe(y=y)}, method="is",
                    backend="pyro", proposals=2000)
    assert list(table.index) == ["right", "too_narrow"]
    assert table["weight"].sum() == pytest.approx(1.0)
    with pytest.raises(MethodError):
        evidence(normal_normal(10, 1.0).observe(y=y), method="nuts", backend="pyro")
