"""End-to-end quality: a small prior trained on two moons passes a C2ST."""
import numpy as np
import pytest

pytest.importorskip("torch")

from models import DiffusionPrior, FlowPrior, MLPConfig, two_moons  # noqa: E402
from models.testing import c2st_accuracy  # noqa: E402


@pytest.mark.slow
def test_two_moons_c2st():
    data = two_moons(4000, np.random.default_rng(0))
    prior = DiffusionPrior.train(data, steps=1500, batch_size=256, lr=2e-3, seed=0, formulation="edm",
                                 net=MLPConfig(data_dim=2, hidden_dim=64, num_blocks=2), progress=False)
    draws = prior.sample(1000, seed=1, sampler="heun", num_steps=32).numpy()
    reference = two_moons(1000, np.random.default_rng(1))
    assert c2st_accuracy(draws, reference) <= 0.6


@pytest.mark.slow
@pytest.mark.parametrize("coupling", ["spline", "affine"])
def test_two_moons_flow_c2st(coupling):
    data = two_moons(4000, np.random.default_rng(0))
    prior = FlowPrior.train(data, steps=1500, batch_size=256, lr=2e-3, seed=0, coupling=coupling, progress=False)
    draws = prior.sample(1000, seed=1).numpy()
    reference = two_moons(1000, np.random.default_rng(1))
    assert c2st_accuracy(draws, reference) <= 0.6


def test_c2st_detects_a_wrong_distribution():
    """Guards the check itself: a shifted copy must be detected."""
    gen = np.random.default_rng(2)
    assert c2st_accuracy(two_moons(500, gen), two_moons(500, gen) + np.array([0.3, 0.0])) > 0.6
