"""End-to-end quality: a small prior trained on two moons passes a C2ST."""
import warnings

import numpy as np
import pytest

pytest.importorskip("torch")
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import cross_val_score  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402

from models import DiffusionPrior, MLPConfig, two_moons  # noqa: E402


def c2st_accuracy(a: np.ndarray, b: np.ndarray, seed: int = 0) -> float:
    """Mean 5-fold accuracy of an MLP classifier telling a from b (0.5 = indistinguishable)."""
    features = np.concatenate([a, b])
    labels = np.r_[np.zeros(len(a)), np.ones(len(b))]
    classifier = MLPClassifier((32, 32), max_iter=400, random_state=seed)
    with warnings.catch_warnings():  # an unconverged classifier only makes the test easier to fail
        warnings.simplefilter("ignore", ConvergenceWarning)
        folds = cross_val_score(classifier, features, labels, cv=5)
    return float(folds.mean())


@pytest.mark.slow
def test_two_moons_c2st():
    data = two_moons(4000, np.random.default_rng(0))
    prior = DiffusionPrior.train(data, steps=1500, batch_size=256, lr=2e-3, seed=0, formulation="edm",
                                 net=MLPConfig(data_dim=2, hidden_dim=64, num_blocks=2), progress=False)
    draws = prior.sample(1000, seed=1, sampler="heun", num_steps=32).numpy()
    reference = two_moons(1000, np.random.default_rng(1))
    assert c2st_accuracy(draws, reference) <= 0.6


def test_c2st_detects_a_wrong_distribution():
    """Guards the check itself: a shifted copy must be detected."""
    gen = np.random.default_rng(2)
    assert c2st_accuracy(two_moons(500, gen), two_moons(500, gen) + np.array([0.3, 0.0])) > 0.6
