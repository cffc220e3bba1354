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


def test_same_distribution_scores_chance():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(N, 3)), rng.normal(size=(N, 3))
    assert abs(c2st(a, b, max_iter=EPOCHS) - 0.5) < c2st_tolerance(N, N)


@pytest.mark.parametrize("distance", [1.5, 5.0])
def test_separated_distributions_score_the_bayes_accuracy(distance):
    rng = np.random.default_rng(1)
    a = rng.normal(size=(N, 2))
    b = rng.normal(size=(N, 2)) + np.array([distance, 0.0])
    bayes = stats.norm.cdf(distance / 2)
    se = np.sqrt(bayes * (1 - bayes) / (2 * N))
    accuracy = c2st(a, b, seed=0, max_iter=EPOCHS)
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


def test_bad_input():
    with pytest.raises(ppl.ShapeError, match="different dimensions"):
        c2st(np.zeros((10, 2)), np.zeros((10, 3)))
    with pytest.raises(ppl.ShapeError, match="NaN"):
        c2st(np.full((10, 2), np.nan), np.zeros((10, 2)))
