"""The sbibm tasks in examples/sbibm_tasks.py simulate what sbibm defines.

Checks that can fail if a prior or simulator is wrong: analytic moments of
gaussian_linear, sbibm's own design matrix and summary statistics for the
Bernoulli GLM, and sbibm's reference posteriors (observation 1), whose draws
must lie in our prior's support and, pushed through our simulator, must
reproduce the observation.
"""
from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path

import numpy as np
import pytest

import ppl
from ppl.check import reference
from ppl.graph import site_of

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tasks():
    spec = importlib.util.spec_from_file_location("examples_sbibm_tasks",
                                                  ROOT / "examples" / "sbibm_tasks.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def wheel():
    try:
        return reference.wheel_path()
    except reference.ReferenceDownloadError as err:
        pytest.skip(f"sbibm wheel unavailable: {err}")


UNIFORM_BOUNDS = {"two_moons": 1.0, "slcp": 3.0, "gaussian_mixture": 10.0}


@pytest.mark.parametrize("backend, num", [("numpyro", 2000), ("pyro", 5)])
def test_simulations_have_sbibm_shapes_and_priors(tasks, backend, num):
    for name, task in tasks.TASKS.items():
        theta_dim, x_dim = reference.TASK_DIMS[name]
        draws = ppl.compile(task.build(), backend).sample_prior(num, seed=0)
        assert draws["theta"].shape == (num, theta_dim) and task.theta_dim == theta_dim, name
        assert draws["x"].shape == (num,) + task.x_shape and int(np.prod(task.x_shape)) == x_dim
        assert np.all(np.isfinite(draws["x"])), name
        if name in UNIFORM_BOUNDS and num > 100:  # sbibm's box priors, filled to the edges
            bound, theta = UNIFORM_BOUNDS[name], np.abs(draws["theta"])
            assert np.all(theta <= bound) and np.all(theta.max(0) > 0.98 * bound), name


def test_gaussian_linear_has_the_analytic_moments(tasks):
    n = 4000
    draws = ppl.compile(tasks.TASKS["gaussian_linear"].build(), "numpyro").sample_prior(n, seed=1)
    theta, x = draws["theta"], draws["x"]
    # theta ~ N(0, 0.1 I), x | theta ~ N(theta, 0.1 I): Var x = 0.2, Cov(theta, x) = 0.1.
    for values, var in ((theta, 0.1), (x, 0.2)):
        assert np.all(np.abs(values.mean(0)) < 4 * np.sqrt(var / n))
        assert np.all(np.abs(values.var(0) - var) < 4 * var * np.sqrt(2 / n))
    cross = ((theta - theta.mean(0)) * (x - x.mean(0))).mean(0)
    assert np.all(np.abs(cross - 0.1) < 4 * np.sqrt((0.1 * 0.2 + 0.1**2) / n))


def test_bernoulli_glm_matches_sbibm_files(tasks, wheel):
    import torch

    design = torch.load(io.BytesIO(reference.read_task_file("bernoulli_glm", "design_matrix.pt")))
    np.testing.assert_allclose(tasks.glm_design(), design.numpy(), atol=1e-6)
    for k in (1, 2, 3):
        raw = np.loadtxt(io.StringIO(reference.read_task_file(
            "bernoulli_glm", f"num_observation_{k}/observation_raw.csv").decode()),
            delimiter=",", skiprows=1)
        x_obs, _ = reference.load_reference("bernoulli_glm", k)
        # Our summary (design' spikes) equals sbibm's count + spike-triggered average.
        np.testing.assert_allclose(tasks.glm_design().T @ raw, x_obs, rtol=1e-5, atol=1e-4)


def test_gaussian_linear_reference_is_our_analytic_posterior(tasks, wheel):
    x_obs, samples = reference.load_reference("gaussian_linear", 1)
    n = len(samples)
    # Prior N(0, 0.1 I) and noise N(0, 0.1 I): posterior N(x / 2, 0.05 I).
    assert np.all(np.abs(samples.mean(0) - x_obs / 2) < 4 * np.sqrt(0.05 / n))
    assert np.all(np.abs(samples.var(0) - 0.05) < 4 * 0.05 * np.sqrt(2 / n))


def canonical(x: np.ndarray) -> np.ndarray:
    """Flattened data (n, dim); a set of i.i.d. points (n, points, 2) is sorted first."""
    if x.ndim == 3:  # slcp's four points are exchangeable: compare them in a fixed order
        x = np.take_along_axis(x, np.argsort(x[..., :1], axis=1), axis=1)
    return x.reshape(len(x), -1)


@pytest.mark.parametrize("name", ["two_moons", "gaussian_linear", "slcp", "bernoulli_glm",
                                  "gaussian_mixture"])
def test_reference_posteriors_reproduce_their_observations(tasks, wheel, name):
    task, per_obs, observations = tasks.TASKS[name], 1000, range(1, 6)
    program = ppl.compile(task.build(), "numpyro")
    support = site_of(task.build().graph, "theta").support
    prior = canonical(program.sample_prior(2000, seed=4)["x"])
    loaded = [reference.load_reference(name, k) for k in observations]
    theta = np.concatenate([samples[:per_obs] for _, samples in loaded])
    # Finite prior density: reference draws lie in our prior's support.
    assert np.all(support.check(theta)), name
    # One simulator call for every observation (each call compiles anew).
    predictive = canonical(program.sample_predictive({"theta": theta}, seed=3)["x"])
    for k, (x_obs, _) in zip(observations, loaded):
        sims = predictive[(k - 1) * per_obs: k * per_obs]
        x_obs = canonical(task.x_site(x_obs)[None])[0]
        # x_obs is typical of our simulator at the reference posterior...
        z = np.abs(x_obs - np.median(sims, 0)) / sims.std(0)
        assert np.all(z < 4), (name, k, z)
        # ... and more so than under the prior: the posterior concentrates where x_obs is likely.
        post_dist, prior_dist = (np.linalg.norm((d - x_obs) / prior.std(0), axis=1)
                                 for d in (sims, prior))
        se = np.sqrt(post_dist.var() / per_obs + prior_dist.var() / len(prior))
        assert post_dist.mean() + 4 * se < prior_dist.mean(), (name, k)


def test_slcp_likelihood_gives_the_reference_posterior(tasks, wheel):
    """Importance sampling from our prior with our likelihood reproduces sbibm's posterior moments."""
    task = tasks.TASKS["slcp"]
    x_obs, samples = reference.load_reference("slcp", 1)
    program = ppl.compile(task.build().observe(x=task.x_site(x_obs)), "numpyro")
    theta = np.random.default_rng(0).uniform(-3, 3, size=(200_000, 5))
    log_lik = program.log_likelihood({"theta": theta})["x"].reshape(len(theta), -1).sum(1)
    weights = np.exp(log_lik - log_lik.max())
    weights /= weights.sum()
    ess = 1 / np.sum(weights**2)
    assert ess > 10
    # The posterior is symmetric in the signs of theta_3, theta_4: compare |theta| there.
    stats_of = lambda t: np.c_[np.abs(t[:, 2:4]), t[:, 4]]
    estimate = weights @ stats_of(theta)
    truth, sd = stats_of(samples).mean(0), stats_of(samples).std(0)
    assert np.all(np.abs(estimate - truth) < 4 * sd / np.sqrt(ess) + 4 * sd / np.sqrt(len(samples)))


@pytest.mark.slow
def test_npe_on_two_moons_meets_sbibm(tasks, wheel):
    """The example's NPE at 10^4 simulations scores at most sbibm's published NPE C2ST."""
    result = tasks.main(["--task", "two_moons", "--simulations", "10000", "--draws", "2000"])
    assert result["draws"].shape == (2000, 2)
    bound = tasks.TASKS["two_moons"].sbibm_npe_c2st + ppl.check.c2st_tolerance(2000, 2000)
    assert result["c2st"] <= bound, result["c2st"]
