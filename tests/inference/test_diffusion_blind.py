"""Blind problems: sigma of the observation is a latent with a prior.

For a Gaussian-mixture prior, p(y | sigma) is closed form
(``log_marginal_likelihood``), so p(sigma | y) and p(y) = int p(sigma) p(y |
sigma) d sigma follow by quadrature on a fine grid. The samplers' posterior
mean of sigma and log evidence must lie within 4 Monte Carlo standard errors
(from independent chains) of them, and the exact 90% interval must cover
the true sigma for this fixed instance.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import halfnorm

import ppl
from models.gmm import GaussianMixturePrior
from ppl import dist
from ppl.errors import MethodError
from ppl.linops import Dense

SIGMA_TRUE = 0.3


def _instance():
    rng = np.random.default_rng(0)
    prior = GaussianMixturePrior.isotropic([0.5, 0.5], [[-1.0] * 4, [1.0] * 4], 0.5)
    A = rng.standard_normal((24, 4)) / 2
    y = A @ prior.sample(1, rng)[0] + SIGMA_TRUE * rng.standard_normal(24)
    return prior, A, y


def _model(prior, A, y, noise=None):
    op = Dense(A)

    @ppl.model
    def blind():
        x = ppl.sample("x", prior.as_distribution())
        s = ppl.sample("sigma", noise or dist.HalfNormal(1.0))
        ppl.sample("y", dist.Normal(op(x), s).to_event(1))

    return blind().observe(y=y)


def _exact(prior, A, y):
    """Posterior mean and 5%/95% quantiles of sigma, and log p(y), by quadrature."""
    grid = np.linspace(1e-3, 2.0, 4000)
    log_joint = halfnorm.logpdf(grid) + np.array([prior.log_marginal_likelihood(A, s, y) for s in grid])
    step = grid[1] - grid[0]
    weights = np.exp(log_joint - log_joint.max())
    cdf = np.cumsum(weights) / weights.sum()
    quantiles = np.interp([0.05, 0.95], cdf, grid)
    return (weights @ grid) / weights.sum(), quantiles, logsumexp(log_joint) + np.log(step)


@pytest.mark.parametrize("method", ["tds", "mcgdiff"])
def test_sigma_posterior_and_evidence_match_quadrature(method):
    prior, A, y = _instance()
    chains = 8
    post = ppl.infer(_model(prior, A, y), method=method, backend="pyro", num_steps=50,
                     draws=300, chains=chains, seed=1, progress=False)
    mean, (low, high), log_evidence = _exact(prior, A, y)
    assert low < SIGMA_TRUE < high
    chain_means = post.samples["sigma"].mean(axis=1)
    se = chain_means.std(ddof=1) / np.sqrt(chains)
    assert abs(chain_means.mean() - mean) < 4 * se
    assert abs(post.log_evidence - log_evidence) < 4 * post.log_evidence_se
    assert post.samples["sigma"].shape == (chains, 300)


def test_noise_prior_with_random_parameters_is_refused():
    prior, A, y = _instance()
    op = Dense(A)

    @ppl.model
    def hierarchical():
        x = ppl.sample("x", prior.as_distribution())
        scale = ppl.sample("scale", dist.HalfNormal(1.0))
        s = ppl.sample("sigma", dist.HalfNormal(scale))
        ppl.sample("y", dist.Normal(op(x), s).to_event(1))

    with pytest.raises(MethodError):
        ppl.infer(hierarchical().observe(y=y), method="tds", backend="pyro", progress=False)
