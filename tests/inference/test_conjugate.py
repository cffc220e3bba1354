"""NUTS recovers exact posteriors of conjugate models on both backends.

Tolerances come from Monte Carlo error: |mean - truth| < 4 sd / sqrt(ESS), and
|sd - truth| < 4 se(sd) with se(sd) = sd sqrt((kurtosis - 1) / (4 ESS)).
"""
import arviz as az
import numpy as np
import pytest
import scipy.stats as st

import ppl
from ppl.testing import normal_normal, beta_binomial, gamma_poisson, linear_regression

RNG = np.random.default_rng(42)
SETTINGS = {
    "numpyro": dict(chains=2, warmup=500, draws=1000),
    "pyro": dict(chains=1, warmup=300, draws=700),
}


def _check(draws, exact):
    """draws: (chain, draw); exact: a frozen scipy distribution."""
    ess = float(az.ess(draws[None] if draws.ndim == 1 else draws))
    mean, sd = exact.mean(), exact.std()
    kurtosis = exact.stats(moments="k") + 3.0
    assert abs(draws.mean() - mean) < 4 * sd / np.sqrt(ess), (draws.mean(), mean, ess)
    se_sd = sd * np.sqrt((kurtosis - 1) / (4 * ess))
    assert abs(draws.std() - sd) < 4 * se_sd, (draws.std(), sd, ess)


def _infer(m, backend):
    return ppl.infer(m, method="nuts", backend=backend, seed=1, progress=False, **SETTINGS[backend])






@pytest.mark.parametrize("backend", ["numpyro", "pyro"])
def test_normal_normal_known_variance(backend):
    y = RNG.normal(2.5, 1.3, size=20)
    prec = 1 / 2.0 ** 2 + len(y) / 1.3 ** 2
    mean = (1.0 / 2.0 ** 2 + y.sum() / 1.3 ** 2) / prec
    post = _infer(normal_normal(len(y), 1.3).observe(y=y), backend)
    _check(post["mu"], st.norm(mean, prec ** -0.5))


@pytest.mark.parametrize("backend", ["numpyro", "pyro"])
def test_beta_binomial(backend):
    post = _infer(beta_binomial(30).observe(k=11), backend)
    _check(post["p"], st.beta(2 + 11, 3 + 30 - 11))


@pytest.mark.parametrize("backend", ["numpyro", "pyro"])
def test_gamma_poisson(backend):
    y = RNG.poisson(4.0, size=15)
    post = _infer(gamma_poisson(len(y)).observe(y=y), backend)
    _check(post["lam"], st.gamma(3 + y.sum(), scale=1 / (1 + len(y))))


@pytest.mark.parametrize("backend", ["numpyro", "pyro"])
def test_bayesian_linear_regression_known_noise(backend):
    x = RNG.normal(size=(25, 3))
    w_true, sigma = np.array([1.0, -0.5, 0.25]), 0.7
    y = x @ w_true + sigma * RNG.normal(size=25)
    cov = np.linalg.inv(np.eye(3) / 1.5 ** 2 + x.T @ x / sigma ** 2)
    mean = cov @ x.T @ y / sigma ** 2
    post = _infer(linear_regression(x, sigma).observe(y=y), backend)
    for j in range(3):
        _check(post["w"][..., j], st.norm(mean[j], np.sqrt(cov[j, j])))
    # The full covariance too: each entry within 4 Monte Carlo standard errors.
    flat = post.flat("w")
    emp = np.cov(flat.T)
    ess = min(float(az.ess(post["w"][..., j])) for j in range(3))
    se = np.sqrt((cov ** 2 + np.outer(np.diag(cov), np.diag(cov))) / ess)
    assert np.all(np.abs(emp - cov) < 4 * se)
