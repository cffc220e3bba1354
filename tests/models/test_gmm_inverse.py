"""The mixture inverse-problem benchmark and the sliced Wasserstein distance.

Statistical checks use tolerances of 4 Monte Carlo standard errors, the se
coming either from a closed-form variance or from the spread of independent
replicates.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import wasserstein_distance

from models.gmm_inverse import grid_means, make_gmm_inverse_problem, sample_by_component
from models.sliced import sliced_wasserstein, wasserstein_1d
from ppl.errors import ShapeError


# -- the problem generator ------------------------------------------------------------
def test_problem_is_deterministic_in_its_seed():
    a, b, c = (make_gmm_inverse_problem(8, 2, s) for s in (3, 3, 4))
    for name in ("A", "y", "x_star"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert not np.allclose(getattr(a, name), getattr(c, name))
    assert a.sigma_y == b.sigma_y and a.log_evidence == b.log_evidence


@pytest.mark.parametrize("d_x", [2, 8, 80])
def test_prior_is_the_tiled_grid_with_squared_normal_weights(d_x):
    problem = make_gmm_inverse_problem(d_x, 1, seed=5)
    prior = problem.prior
    expected = {(-8.0 * i, -8.0 * j) for i, j in itertools.product(range(-2, 3), repeat=2)}
    assert {tuple(m[:2]) for m in prior.means} == expected
    np.testing.assert_array_equal(prior.means, np.tile(prior.means[:, :2], (1, d_x // 2)))
    np.testing.assert_array_equal(prior.covariances, np.broadcast_to(np.eye(d_x), (25, d_x, d_x)))
    z = np.random.default_rng(5).standard_normal(25)  # the generator's first draw
    np.testing.assert_allclose(prior.weights, z**2 / np.sum(z**2), rtol=1e-12)


@pytest.mark.parametrize("d_x, d_y", [(8, 1), (8, 4), (80, 2)])
def test_operator_has_the_drawn_spectrum_and_noise_below_its_top(d_x, d_y):
    for seed in range(5):
        p = make_gmm_inverse_problem(d_x, d_y, seed)
        assert p.A.shape == (d_y, d_x) and p.y.shape == (d_y,) and p.x_star.shape == (d_x,)
        np.testing.assert_allclose(np.linalg.svd(p.A, compute_uv=False), p.singular_values, rtol=1e-10)
        assert np.all(np.diff(p.singular_values) <= 0)
        assert 0 < p.singular_values[-1] and p.singular_values[0] < 1
        assert 0 < p.sigma_y < p.singular_values[0]


def test_truth_comes_from_the_prior_and_y_from_the_likelihood():
    """Over many seeds: (y - A x*) / sigma_y ~ N(0, 1) and |x* - nearest mean|^2 ~ chi^2(d)."""
    n, d_x = 400, 4
    resid, dist2 = [], []
    for seed in range(n):
        p = make_gmm_inverse_problem(d_x, 1, seed)
        resid.append(((p.y - p.A @ p.x_star) / p.sigma_y)[0])
        dist2.append(np.min(np.sum((p.prior.means - p.x_star) ** 2, axis=1)))
    resid = np.array(resid)
    assert abs(resid.mean()) < 4 / np.sqrt(n)
    assert abs(resid.var() - 1.0) < 4 * np.sqrt(2.0 / n)
    # Means are 8 apart: the nearest mean is x*'s own component with overwhelming probability.
    assert abs(np.mean(dist2) - d_x) < 4 * np.sqrt(2.0 * d_x / n)


def test_posterior_and_evidence_are_the_exact_ones():
    p = make_gmm_inverse_problem(8, 2, seed=1)
    exact = p.prior.posterior_given_linear_gaussian(p.A, p.sigma_y, p.y)
    np.testing.assert_allclose(p.posterior.means, exact.means)
    np.testing.assert_allclose(p.posterior.weights, exact.weights)
    # Evidence by simple Monte Carlo over the prior: log mean exp of the likelihood.
    lik = np.exp(p.log_likelihood(p.prior.sample(400_000, np.random.default_rng(0))))
    est, se = np.log(lik.mean()), lik.std() / (np.sqrt(len(lik)) * lik.mean())
    assert abs(est - p.log_evidence) < 4 * se


def _assert_moments(draws: np.ndarray, mixture, directions: np.ndarray) -> None:
    """Mean per coordinate and variance along each direction within 4 se of the mixture's."""
    n = len(draws)
    sd = np.sqrt(np.diag(mixture.covariance()))
    assert np.all(np.abs(draws.mean(0) - mixture.mean()) < 4 * sd / np.sqrt(n))
    for direction in directions:
        proj = draws @ direction
        var = direction @ mixture.covariance() @ direction
        se = np.sqrt((np.mean((proj - proj.mean()) ** 4) - np.var(proj) ** 2) / n)  # se of a variance
        assert abs(np.var(proj) - var) < 4 * se


def test_posterior_samples_have_the_mixture_moments():
    p = make_gmm_inverse_problem(80, 4, seed=2)
    # A direction the data pins down (top right singular vector) and one it barely touches.
    directions = [np.linalg.svd(p.A)[2][0], np.eye(80)[0]]
    _assert_moments(p.posterior_samples(20_000, seed=0), p.posterior, directions)


def test_sample_by_component_has_the_prior_moments():
    p = make_gmm_inverse_problem(8, 1, seed=0)
    draws = sample_by_component(p.prior, 20_000, np.random.default_rng(0))
    _assert_moments(draws, p.prior, np.eye(8)[:2])


@pytest.mark.parametrize("d_x, d_y", [(7, 1), (0, 1), (8, 9), (8, 0)])
def test_bad_sizes_are_rejected(d_x, d_y):
    with pytest.raises(ShapeError, match="d_"):
        make_gmm_inverse_problem(d_x, d_y)


def test_grid_means_shape():
    assert grid_means(6).shape == (25, 6)


# -- sliced Wasserstein -------------------------------------------------------------------
def test_identical_samples_are_at_distance_zero(rng):
    a = rng.standard_normal((300, 5))
    assert sliced_wasserstein(a, a.copy()) == 0.0
    assert sliced_wasserstein(a, a[::-1]) == pytest.approx(0.0, abs=1e-12)  # order does not matter


def test_distance_is_symmetric_with_unequal_counts(rng):
    a, b = rng.standard_normal((200, 3)), 1.0 + rng.standard_normal((700, 3))
    assert sliced_wasserstein(a, b, seed=4) == sliced_wasserstein(b, a, seed=4)
    assert sliced_wasserstein(a, b, seed=4) > 0.1


@pytest.mark.parametrize("n, m", [(10, 10), (7, 13), (100, 37)])
def test_exact_1d_distance_matches_scipy(rng, n, m):
    a, b = rng.standard_normal(n), 2.0 * rng.standard_normal(m) + 0.3
    assert wasserstein_1d(a, b, p=1) == pytest.approx(wasserstein_distance(a, b), rel=1e-12)


def test_1d_w2_matches_the_closed_form_between_gaussians():
    """W2(N(m1, s1^2), N(m2, s2^2))^2 = (m1 - m2)^2 + (s1 - s2)^2; 1-D SW is W."""
    truth = 1.0**2 + (2.0 - 1.0) ** 2
    gen = np.random.default_rng(11)
    est = np.array([sliced_wasserstein(gen.standard_normal((4000, 1)), 1.0 + 2.0 * gen.standard_normal((3000, 1)),
                                       num_directions=1, seed=r) ** 2 for r in range(12)])
    assert abs(est.mean() - truth) < 4 * est.std(ddof=1) / np.sqrt(len(est))


def test_sliced_w2_matches_the_closed_form_between_isotropic_gaussians():
    """Projected on theta: N(theta.m, s^2); E (theta.delta)^2 = |delta|^2 / d on the sphere."""
    d, delta, s1, s2 = 6, np.array([2.0, -1.0, 0.0, 1.0, 0.0, 0.5]), 1.0, 1.5
    truth = delta @ delta / d + (s1 - s2) ** 2
    gen = np.random.default_rng(12)
    est = np.array([sliced_wasserstein(s1 * gen.standard_normal((3000, d)),
                                       delta + s2 * gen.standard_normal((2000, d)),
                                       num_directions=200, seed=r) ** 2 for r in range(12)])
    assert abs(est.mean() - truth) < 4 * est.std(ddof=1) / np.sqrt(len(est))


def test_mismatched_dimensions_are_rejected(rng):
    with pytest.raises(ShapeError, match=r"\(n, d\) and \(m, d\)"):
        sliced_wasserstein(rng.standard_normal((5, 2)), rng.standard_normal((5, 3)))
