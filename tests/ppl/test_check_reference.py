"""sbibm's reference posteriors load for every task and observation.

Needs the sbibm wheel (fetched once with pip into the cache); skipped with
the reason when it cannot be downloaded (offline).
"""
from __future__ import annotations

import numpy as np
import pytest

import ppl
from ppl.check import reference
from ppl.check.reference import TASK_DIMS, ReferenceDownloadError, load_reference


@pytest.fixture(scope="module")
def wheel():
    try:
        return reference.wheel_path()
    except ReferenceDownloadError as err:
        pytest.skip(f"sbibm wheel unavailable: {err}")


@pytest.mark.parametrize("task", sorted(TASK_DIMS))
def test_every_observation_of_every_task_loads(wheel, task):
    theta_dim, x_dim = TASK_DIMS[task]
    for k in range(1, 11):
        x_obs, samples = load_reference(task, k)
        assert x_obs.shape == (x_dim,) and samples.shape == (10_000, theta_dim)
        assert np.all(np.isfinite(samples)) and np.all(np.isfinite(x_obs))
        truth = reference.load_true_parameters(task, k)
        assert truth.shape == (theta_dim,)
        # The parameter that generated the data is plausible under its reference posterior.
        z = np.abs(truth - samples.mean(0)) / samples.std(0)
        assert np.all(z < 6), (task, k, z)


def test_observations_differ_and_reload_from_the_cache(wheel):
    x1, s1 = load_reference("gaussian_linear", 1)
    x2, _ = load_reference("gaussian_linear", 2)
    assert not np.allclose(x1, x2)
    again = load_reference("gaussian_linear", 1)
    np.testing.assert_array_equal(again[1], s1)


def test_bad_requests_are_reported():
    with pytest.raises(ppl.ParameterError, match="unknown sbibm task 'lotka'"):
        load_reference("lotka", 1)
    for bad in (0, 11, 1.5):
        with pytest.raises(ppl.ParameterError, match="numbered 1 to 10"):
            load_reference("slcp", bad)


def test_failed_download_says_so_and_leaves_no_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PPL_CACHE", str(tmp_path))
    monkeypatch.setattr(reference, "SBIBM_VERSION", "0.0.0-does-not-exist")
    monkeypatch.setattr(reference, "WHEEL", "sbibm-0.0.0-py2.py3-none-any.whl")
    with pytest.raises(ReferenceDownloadError, match="failed"):
        reference.wheel_path()
    assert not list((tmp_path / "sbibm").iterdir())  # no partial folder left behind
