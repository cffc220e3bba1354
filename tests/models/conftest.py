"""Shared fixtures for tests of the ``models`` package."""
from __future__ import annotations

import numpy as np
import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


@pytest.fixture(scope="session", autouse=True)
def single_torch_thread():
    """The nets here are tiny: extra torch threads only add OpenMP spin-waits, which
    on a loaded 2-core CI machine make a step 100x slower."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture
def rng():
    return np.random.default_rng(20240611)


@pytest.fixture
def full_gmm():
    """A 2-D, 3-component mixture with full, correlated covariances."""
    from models.gmm import GaussianMixturePrior

    gen = np.random.default_rng(7)
    factors = gen.standard_normal((3, 2, 2))
    covs = factors @ np.swapaxes(factors, 1, 2) * 0.3 + 0.05 * np.eye(2)
    means = np.array([[-2.0, 0.0], [1.5, 1.0], [0.5, -2.0]])
    return GaussianMixturePrior(np.array([0.2, 0.5, 0.3]), means, covs)
