"""Posterior objects, ArviZ conversion, predictive sampling and HMC."""
import arviz as az
import matplotlib
import numpy as np
import pytest
import scipy.stats as st

import ppl
from ppl import testing

matplotlib.use("Agg")
SIGMA = np.array([15.0, 10, 16, 11, 9, 11, 10, 18])
Y = np.array([28.0, 8, -3, 7, -1, 1, 18, 12])
STATS = {"diverging", "acceptance_rate", "step_size", "tree_depth", "energy", "lp"}


@pytest.fixture(scope="module", params=["numpyro", "pyro"])
def eight_schools_posterior(request):
    import jax
    import torch

    old_x64, old_dtype = jax.config.jax_enable_x64, torch.get_default_dtype()
    jax.config.update("jax_enable_x64", True)
    torch.set_default_dtype(torch.float64)
    m = testing.eight_schools_noncentered(SIGMA).observe(y=Y)
    draws = 200 if request.param == "pyro" else 500
    yield m, ppl.infer(m, backend=request.param, chains=2, warmup=draws, draws=draws, seed=3,
                       progress=False)
    # Module-scoped: restore the defaults so later modules on this worker run as they expect.
    jax.config.update("jax_enable_x64", old_x64)
    torch.set_default_dtype(old_dtype)


def test_inference_data_groups_and_dims(eight_schools_posterior):
    _, post = eight_schools_posterior
    idata = post.to_arviz(prior=True, posterior_predictive=True, log_likelihood=True)
    for group in ("posterior", "sample_stats", "observed_data", "constant_data", "prior",
                  "posterior_predictive", "log_likelihood"):
        assert hasattr(idata, group), group
    assert idata.posterior["eta"].dims == ("chain", "draw", "school")
    assert idata.posterior["theta"].dims == ("chain", "draw", "school")
    assert idata.log_likelihood["y"].dims == ("chain", "draw", "school")
    assert idata.observed_data["y"].dims == ("school",)
    assert idata.constant_data["sigma"].dims == ("school",)
    assert STATS <= set(idata.sample_stats.data_vars)
    assert idata.posterior["mu"].shape[:2] == (post.num_chains, post.num_draws)


def test_arviz_functions_work(eight_schools_posterior):
    _, post = eight_schools_posterior
    idata = post.to_arviz(log_likelihood=True)
    summary = az.summary(idata, var_names=["mu", "tau"])
    assert summary["r_hat"].max() < 1.1
    loo = az.loo(idata)
    assert np.isfinite(loo.elpd_loo) and -40 < loo.elpd_loo < -25
    axes = az.plot_trace(idata, var_names=["mu"])
    assert axes.shape == (1, 2)


def test_sample_stats_are_sane(eight_schools_posterior):
    _, post = eight_schools_posterior
    stats = post.sample_stats
    assert set(stats) >= STATS
    assert 0.5 < stats["acceptance_rate"].mean() <= 1.0
    assert stats["diverging"].dtype == bool and stats["diverging"].mean() < 0.05
    assert np.all(stats["tree_depth"] >= 1) and np.all(stats["step_size"] > 0)
    assert np.all(stats["energy"] >= -stats["lp"] - 1e-6)  # kinetic energy is non-negative


def test_log_likelihood_matches_scipy(eight_schools_posterior):
    _, post = eight_schools_posterior
    idata = post.to_arviz(log_likelihood=True)
    theta = idata.posterior["theta"].values
    expected = st.norm(theta, SIGMA).logpdf(Y)
    np.testing.assert_allclose(idata.log_likelihood["y"].values, expected, rtol=1e-6)


def test_posterior_predictive_moments(eight_schools_posterior):
    m, post = eight_schools_posterior
    pp = ppl.predictive(m, posterior=post, seed=1)
    assert pp["y"].shape == (post.num_chains, post.num_draws, 8)
    theta = post.flat("theta")
    resid = pp["y"].reshape(-1, 8) - theta  # y - theta ~ N(0, sigma) given theta
    n = resid.shape[0]
    assert np.all(np.abs(resid.mean(0)) < 4 * SIGMA / np.sqrt(n))
    assert np.all(np.abs(resid.std(0) / SIGMA - 1) < 4 * np.sqrt(0.5 / n))


@pytest.mark.parametrize("backend", ["numpyro", "pyro"])
def test_prior_predictive_matches_prior(backend, float64):
    m = testing.eight_schools_noncentered(SIGMA)
    n = 1000 if backend == "numpyro" else 300
    draws = ppl.predictive(m, num_samples=n, seed=0, backend=backend)
    assert set(draws) == {"mu", "tau", "eta", "theta", "y"}
    assert draws["y"].shape == (n, 8)
    assert abs(draws["mu"].mean()) < 4 * 5.0 / np.sqrt(n)
    assert abs(draws["mu"].std() / 5.0 - 1) < 4 * np.sqrt(0.5 / n)
    assert st.kstest(draws["eta"].ravel()[:n], "norm").pvalue > 1e-4


@pytest.mark.parametrize("backend", ["numpyro", "pyro"])
def test_hmc_recovers_normal_posterior(backend, float64):
    @ppl.model
    def m():
        mu = ppl.sample("mu", ppl.dist.Normal(0.0, 1.0))
        with ppl.plate("obs", 4):
            ppl.sample("y", ppl.dist.Normal(mu, 1.0))

    y = np.array([0.5, 1.5, 1.0, 2.0])
    draws = 800 if backend == "numpyro" else 400
    post = ppl.infer(m().observe(y=y), method="hmc", backend=backend, chains=1, warmup=300,
                     draws=draws, num_steps=5, seed=0, progress=False)
    exact = st.norm(y.sum() / 5, np.sqrt(1 / 5))
    ess = float(az.ess(post["mu"]))
    assert abs(post["mu"].mean() - exact.mean()) < 4 * exact.std() / np.sqrt(ess)
    assert post.method == "hmc"


def test_auto_method_says_why(float64):
    m = testing.eight_schools_noncentered(SIGMA).observe(y=Y)
    post = ppl.infer(m, chains=1, warmup=50, draws=20, progress=False)
    assert post.method == "nuts" and "continuous" in post.notes[0]
    assert post.timings["compile"] < post.timings["total"]


def test_predictive_at_new_inputs_draws_unobserved_outputs(float64):
    @ppl.model
    def line(x):
        slope = ppl.sample("slope", ppl.dist.Normal(0.0, 1.0))
        with ppl.plate("obs", len(x)):
            ppl.sample("y", ppl.dist.Normal(slope * x, 0.1))

    x = np.linspace(-1, 1, 10)
    post = ppl.infer(line(x).observe(y=2.0 * x), chains=1, warmup=200, draws=200, seed=0,
                     progress=False)
    x_new = np.array([3.0, 4.0])
    for backend in ("numpyro", "pyro"):
        post.backend = backend  # the draws are backend-neutral numpy arrays
        pp = ppl.predictive(line(x_new), posterior=post, seed=2)
        assert pp["y"].shape == (1, 200, 2)
        slope = post["slope"][..., None]
        resid = (pp["y"] - slope * x_new) / 0.1
        assert abs(resid.mean()) < 4 / np.sqrt(resid.size) and abs(resid.std() - 1) < 0.1
