"""C2ST as sbibm defines it: chance for equal distributions, Bayes accuracy for different ones.

For two Gaussians with a shared covariance and Mahalanobis distance d the best
possible classifier scores Phi(d / 2); held-out accuracy on n points is a
binomial proportion, which sets the tolerances.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import ppl
from ppl.check import c2st, c2st_tolerance

N = 300
EPOCHS = 200  # sbibm allows 10 000; a capped classifier can only under-report a difference


ENGINES = ["sklearn", "jax"]


@pytest.mark.parametrize("engine", ENGINES)
def test_same_distribution_scores_chance(engine):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(N, 3)), rng.normal(size=(N, 3))
    assert abs(c2st(a, b, max_iter=EPOCHS, engine=engine) - 0.5) < c2st_tolerance(N, N)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("distance", [1.5, 5.0])
def test_separated_distributions_score_the_bayes_accuracy(distance, engine):
    rng = np.random.default_rng(1)
    a = rng.normal(size=(N, 2))
    b = rng.normal(size=(N, 2)) + np.array([distance, 0.0])
    bayes = stats.norm.cdf(distance / 2)
    se = np.sqrt(bayes * (1 - bayes) / (2 * N))
    accuracy = c2st(a, b, seed=0, max_iter=EPOCHS, engine=engine)
    # The classifier can fall short of Bayes (a little) but not beat it beyond noise.
    assert bayes - 4 * se - 0.02 <= accuracy <= bayes + 4 * se, (accuracy, bayes)


def test_z_scoring_makes_it_scale_free():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(300, 2)), rng.normal(size=(300, 2)) + np.array([1.0, 0.0])
    scale = np.array([1e4, 1e-3])
    assert c2st(a, b, max_iter=EPOCHS) == pytest.approx(c2st(a * scale, b * scale, max_iter=EPOCHS),
                                                       abs=0.02)


def test_models_testing_delegates_to_it():
    from models.testing import c2st_accuracy

    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(100, 2)), rng.normal(size=(100, 2)) + 1.0
    assert c2st_accuracy(a, b, seed=4) == c2st(a, b, seed=4, max_iter=400)


def test_jax_engine_trains_like_sklearn():
    """The same algorithm: the stopping rule fires after a similar number of epochs and the
    held-out accuracies agree within their binomial error (1000 test points, 2 x 4 sd)."""
    from sklearn.neural_network import MLPClassifier

    from ppl.check.c2st_jax import fold_accuracy

    rng = np.random.default_rng(5)
    x = rng.normal(size=(5000, 2))
    y = (rng.uniform(size=5000) < 1 / (1 + np.exp(-2 * x[:, 0] * x[:, 1]))).astype(float)  # a curved boundary
    sk = MLPClassifier(hidden_layer_sizes=(20, 20), max_iter=10_000, random_state=0).fit(x[:4000], y[:4000])
    accuracy, epochs = fold_accuracy(x[:4000], y[:4000], x[4000:], y[4000:], 20, 10_000, 0)
    assert abs(accuracy - sk.score(x[4000:], y[4000:])) < 8 * 0.5 / np.sqrt(1000)
    assert 0.5 < epochs / sk.n_iter_ < 2


def test_bad_input():
    with pytest.raises(ppl.ShapeError, match="different dimensions"):
        c2st(np.zeros((10, 2)), np.zeros((10, 3)))
    with pytest.raises(ppl.ShapeError, match="NaN"):
        c2st(np.full((10, 2), np.nan), np.zeros((10, 2)))
    with pytest.raises(ppl.ParameterError, match="unknown engine 'torch'"):
        c2st(np.zeros((10, 2)), np.zeros((10, 2)), engine="torch")
