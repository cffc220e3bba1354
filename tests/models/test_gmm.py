import numpy as np
import pytest
from scipy.stats import multivariate_normal

from models.gmm import GaussianMixturePrior
from ppl.errors import ParameterError

LEVELS = [(1.0, 0.0), (0.9, 0.3), (0.3, 0.95), (1.0, 2.5)]  # (alpha, sigma)


def _scipy_log_prob(gmm, x, alpha, sigma):
    dens = sum(
        w * multivariate_normal(alpha * m, alpha**2 * c + sigma**2 * np.eye(gmm.dim)).pdf(x)
        for w, m, c in zip(gmm.weights, gmm.means, gmm.covariances)
    )
    return np.log(dens)


@pytest.mark.parametrize("alpha, sigma", LEVELS)
def test_diffused_log_prob_matches_scipy(full_gmm, rng, alpha, sigma):
    x = 2.0 * rng.standard_normal((20, 2))
    np.testing.assert_allclose(full_gmm.diffused_log_prob(x, alpha, sigma), _scipy_log_prob(full_gmm, x, alpha, sigma),
                               rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("alpha, sigma", LEVELS[1:])
def test_score_matches_finite_differences(full_gmm, rng, alpha, sigma):
    x = 1.5 * rng.standard_normal((10, 2))
    h = 1e-5
    fd = np.stack([(full_gmm.diffused_log_prob(x + h * e, alpha, sigma)
                    - full_gmm.diffused_log_prob(x - h * e, alpha, sigma)) / (2 * h) for e in np.eye(2)], axis=1)
    np.testing.assert_allclose(full_gmm.diffused_score(x, alpha, sigma), fd, rtol=1e-6, atol=1e-6)


def test_score_matches_jax_autodiff_with_per_sample_levels(full_gmm, rng):
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    x = 1.5 * rng.standard_normal((12, 2))
    alpha_bar = rng.uniform(0.01, 0.99, size=12)
    with jax.enable_x64(True):
        def log_p(point, level):
            return full_gmm.vp_log_prob(point[None], level[None], xp=jnp)[0]

        auto = jax.vmap(jax.grad(log_p))(jnp.asarray(x), jnp.asarray(alpha_bar))
        ours = full_gmm.vp_score(jnp.asarray(x), jnp.asarray(alpha_bar), xp=jnp)
    np.testing.assert_allclose(np.asarray(ours), np.asarray(auto), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(full_gmm.vp_score(x, alpha_bar), np.asarray(ours), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("alpha_bar", [0.05, 0.5, 0.99])
def test_vp_denoiser_satisfies_tweedie(full_gmm, rng, alpha_bar):
    x = 2.0 * rng.standard_normal((15, 2))
    tweedie = (x + (1 - alpha_bar) * full_gmm.vp_score(x, alpha_bar)) / np.sqrt(alpha_bar)
    np.testing.assert_allclose(full_gmm.vp_denoise(x, alpha_bar), tweedie, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("sigma", [0.01, 0.7, 30.0])
def test_ve_denoiser_satisfies_tweedie(full_gmm, rng, sigma):
    x = 2.0 * rng.standard_normal((15, 2))
    tweedie = x + sigma**2 * full_gmm.ve_score(x, sigma)
    np.testing.assert_allclose(full_gmm.ve_denoise(x, sigma), tweedie, rtol=1e-9, atol=1e-9)


def test_denoiser_is_posterior_mean_by_monte_carlo(full_gmm):
    """E[x0 | x_t] regression check: residual x0 - D(x_t) is uncorrelated with x_t."""
    gen = np.random.default_rng(1)
    n, alpha, sigma = 40_000, 0.8, 0.6
    x0 = full_gmm.sample(n, gen)
    x_t = alpha * x0 + sigma * gen.standard_normal(x0.shape)
    resid = x0 - full_gmm.diffused_denoise(x_t, alpha, sigma)
    for feature in (np.ones(n), x_t[:, 0], x_t[:, 1]):
        products = resid * feature[:, None]
        assert np.all(np.abs(products.mean(0)) < 4 * products.std(0) / np.sqrt(n))


def test_sample_moments(full_gmm):
    n = 40_000
    draws = full_gmm.sample(n, np.random.default_rng(3))
    mean, cov = full_gmm.mean(), full_gmm.covariance()
    assert np.all(np.abs(draws.mean(0) - mean) < 4 * np.sqrt(np.diag(cov) / n))
    centred = draws - mean
    products = centred[:, :, None] * centred[:, None, :]
    tolerance = 4 * products.reshape(n, -1).std(0) / np.sqrt(n)
    assert np.all(np.abs(products.mean(0).ravel() - cov.ravel()) < tolerance)


def test_diagonal_fast_path_agrees_with_rotated_full_path(rng):
    diag = GaussianMixturePrior.diagonal([0.4, 0.6], [[0.0, 1.0], [2.0, -1.0]], [[0.5, 2.0], [1.0, 0.2]])
    angle = 0.7
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    full = GaussianMixturePrior(diag.weights, diag.means @ rot.T, rot @ diag.covariances @ rot.T)
    x = rng.standard_normal((9, 2))
    np.testing.assert_allclose(full.diffused_log_prob(x @ rot.T, 0.7, 0.5), diag.diffused_log_prob(x, 0.7, 0.5),
                               rtol=1e-10)
    np.testing.assert_allclose(full.diffused_denoise(x @ rot.T, 0.7, 0.5), diag.diffused_denoise(x, 0.7, 0.5) @ rot.T,
                               rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("alpha, sigma", [(1.0, 0.3), (0.6, 0.8), ("rows", "rows"), (1.0, 0.0)])
def test_shared_covariance_matmul_path_agrees_with_per_component_path(rng, alpha, sigma):
    """Components with one shared diagonal covariance take the (n, d) x (d, K) path; same numbers."""
    means = rng.normal(size=(5, 6)) * 3.0
    shared = GaussianMixturePrior.diagonal(rng.dirichlet(np.ones(5)), means, np.linspace(0.5, 2.0, 6))
    generic = GaussianMixturePrior(shared.weights, shared.means, shared.covariances)
    object.__setattr__(generic, "_shared_diagonal", False)  # force the per-component (n, K, d) path
    assert shared._shared_diagonal
    x = rng.standard_normal((11, 6)) * 3.0
    alpha = rng.uniform(0.2, 1.0, 11) if alpha == "rows" else alpha
    sigma = rng.uniform(0.1, 2.0, 11) if sigma == "rows" else sigma
    for name in ("diffused_log_prob", "diffused_score", "diffused_denoise"):
        np.testing.assert_allclose(getattr(shared, name)(x, alpha, sigma), getattr(generic, name)(x, alpha, sigma),
                                   rtol=1e-9, atol=1e-9, err_msg=name)


def test_unshared_diagonal_covariances_keep_the_per_component_path():
    mixture = GaussianMixturePrior.diagonal([0.5, 0.5], [[0.0, 0.0], [1.0, 1.0]], [[1.0, 1.0], [2.0, 1.0]])
    assert mixture._diagonal and not mixture._shared_diagonal


def test_torch_namespace_agrees(full_gmm, rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((6, 2))
    out = full_gmm.ve_score(torch.as_tensor(x), torch.full((6,), 0.4, dtype=torch.float64))
    np.testing.assert_allclose(out.numpy(), full_gmm.ve_score(x, 0.4), rtol=1e-12)


def test_posterior_is_prior_times_likelihood(full_gmm, rng):
    A, sigma_y, y = np.array([[1.0, 0.5]]), 0.4, np.array([0.3])
    post = full_gmm.posterior_given_linear_gaussian(A, sigma_y, y)
    x = 2.0 * rng.standard_normal((25, 2))
    log_lik = -0.5 * ((y - x @ A.T)[:, 0] / sigma_y) ** 2 - np.log(sigma_y * np.sqrt(2 * np.pi))
    unnormalised = full_gmm.log_prob(x) + log_lik
    np.testing.assert_allclose(post.log_prob(x) - unnormalised, -full_gmm.log_marginal_likelihood(A, sigma_y, y),
                               rtol=0, atol=1e-9)


def test_single_gaussian_posterior_is_kalman():
    prior = GaussianMixturePrior([1.0], [[1.0, -1.0]], [[[2.0, 0.3], [0.3, 1.0]]])
    A, sigma_y, y = np.array([[1.0, 0.0], [1.0, 1.0]]), 0.5, np.array([0.2, 1.1])
    cov = prior.covariances[0]
    gain = cov @ A.T @ np.linalg.inv(A @ cov @ A.T + sigma_y**2 * np.eye(2))
    post = prior.posterior_given_linear_gaussian(A, sigma_y, y)
    np.testing.assert_allclose(post.means[0], prior.means[0] + gain @ (y - A @ prior.means[0]), rtol=1e-10)
    np.testing.assert_allclose(post.covariances[0], cov - gain @ A @ cov, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    (dict(weights=[0.5, -0.5], means=[[0.0], [1.0]], covariances=[[[1.0]], [[1.0]]]), "positive"),
    (dict(weights=[1.0], means=[[0.0, 0.0]], covariances=[[[1.0, 2.0], [2.0, 1.0]]]), "positive definite"),
    (dict(weights=[1.0], means=[[0.0, 0.0]], covariances=[[[1.0]]]), "shape"),
    (dict(weights=[1.0], means=[[np.nan]], covariances=[[[1.0]]]), "finite"),
])
def test_invalid_parameters(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        GaussianMixturePrior(**kwargs)


def test_invalid_observation_model(full_gmm):
    with pytest.raises(ParameterError, match="A must have shape"):
        full_gmm.posterior_given_linear_gaussian(np.ones((2, 3)), 0.1, np.zeros(2))
    with pytest.raises(ParameterError, match="sigma_y"):
        full_gmm.posterior_given_linear_gaussian(np.ones((1, 2)), 0.0, np.zeros(1))
