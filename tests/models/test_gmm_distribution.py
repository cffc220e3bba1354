"""A Gaussian mixture prior as a ppl distribution: exact density, exact draws, NUTS on both backends."""
import numpy as np
import pytest
import scipy.stats as st

import ppl
from models.gmm import GaussianMixturePrior
from ppl import dist
from ppl.structure import diffusion_prior_sites, linear_gaussian_observations
from ppl.testing import assert_backends_agree

BACKENDS = ("numpyro", "pyro")


def _prior_only(distribution):
    @ppl.model
    def prior_only():
        ppl.sample("x", distribution)

    return prior_only()


@ppl.model
def _linear_gaussian(prior, A, noise):
    x = ppl.sample("x", prior.as_distribution())
    ppl.sample("y", dist.Normal(A @ x, noise).to_event(1))


def test_log_density_and_score_are_exact_on_both_backends(full_gmm, float64):
    programs = {b: ppl.compile(_prior_only(full_gmm.as_distribution()), b) for b in BACKENDS}
    points = np.array([[0.3, -0.1], [-2.0, 0.5], [4.0, -3.0]])
    exact, score = full_gmm.log_prob(points), full_gmm.diffused_score(points, 1.0, 0.0)
    for b, program in programs.items():
        for k, point in enumerate(points):
            assert program.log_density({"x": point}) == pytest.approx(exact[k], rel=1e-10), b
            np.testing.assert_allclose(program.grad_log_density({"x": point})["x"], score[k], rtol=1e-8)


def test_image_shaped_mixture_and_linear_observation_agree(float64):
    rng = np.random.default_rng(1)
    prior = GaussianMixturePrior.isotropic([0.4, 0.6], rng.normal(size=(2, 4)), [0.5, 1.0])
    op = ppl.linops.Downsample((2, 2), 2)

    @ppl.model
    def image(noise):
        x = ppl.sample("x", prior.as_distribution(event_shape=(2, 2)))
        ppl.sample("y", dist.Normal(op(x), noise).to_event(2))

    m = image(0.2).observe(y=np.array([[0.4]]))
    assert_backends_agree(m, num_points=2)
    (found,) = linear_gaussian_observations(m)
    assert found.prior is prior and found.operator is op and found.noise == 0.2
    assert diffusion_prior_sites(m) == ["x"]
    point = rng.normal(size=(2, 2))
    lik = st.norm(point.mean(), 0.2).logpdf(0.4)
    assert ppl.compile(m, "pyro").log_density({"x": point}) == pytest.approx(
        prior.log_prob(point.reshape(1, 4))[0] + lik, rel=1e-10)
    with pytest.raises(ppl.ShapeError, match=r"event_shape \(3, 2\).*dimension 4"):
        prior.as_distribution(event_shape=(3, 2))


@pytest.mark.parametrize("backend", BACKENDS)
def test_draws_follow_the_mixture(full_gmm, backend, float64):
    """Moments within 4 MC standard errors; a 1-D projection passes a KS test against its exact CDF."""
    n = 20_000
    draws = _native_draws(full_gmm.as_distribution(), backend, n)
    assert draws.shape == (n, 2)
    mean_err = np.abs(draws.mean(0) - full_gmm.mean())
    assert np.all(mean_err < 4 * draws.std(0) / np.sqrt(n))
    centred = draws - full_gmm.mean()
    products = centred[:, :, None] * centred[:, None, :]                  # (n, 2, 2)
    cov_err = np.abs(products.mean(0) - full_gmm.covariance())
    assert np.all(cov_err < 4 * products.std(0) / np.sqrt(n))
    direction = np.array([0.6, -0.8])
    locs, scales = full_gmm.means @ direction, np.sqrt(direction @ full_gmm.covariances @ direction)

    def cdf(v):
        return np.sum(full_gmm.weights * st.norm.cdf((np.asarray(v)[..., None] - locs) / scales), -1)

    assert st.kstest(draws @ direction, cdf).pvalue > 1e-3


def _native_draws(distribution, backend, n):
    """n draws from the lowered NumPyro / Pyro distribution (the path models sample through)."""
    native = distribution.lower(backend, "cpu")
    if backend == "numpyro":
        import jax

        return np.asarray(native.sample(jax.random.key(3), (n,)))
    import torch

    torch.manual_seed(3)
    return native.sample((n,)).numpy()


def test_prior_simulation_through_the_model(full_gmm, float64):
    for backend in BACKENDS:
        draws = ppl.compile(_prior_only(full_gmm.as_distribution()), backend).sample_prior(5, seed=0)
        assert draws["x"].shape == (5, 2) and np.all(np.isfinite(draws["x"]))


@pytest.mark.slow  # ~30 s of NUTS on a loaded 2-core machine
def test_nuts_matches_exact_linear_gaussian_posterior(float64):
    """NUTS (NumPyro) on x ~ GMM, y ~ N(A x, s): posterior mean within 4 sd / sqrt(ESS) of the exact one."""
    import arviz as az

    covs = np.array([[[1.0, 0.3], [0.3, 0.6]], [[0.5, -0.2], [-0.2, 0.8]]])
    prior = GaussianMixturePrior(np.array([0.35, 0.65]), np.array([[-0.6, 0.2], [0.7, -0.3]]), covs)
    A, noise, y = np.array([[1.0, 0.5]]), 0.4, np.array([0.9])
    exact = prior.posterior_given_linear_gaussian(A, noise, y)
    post = ppl.infer(_linear_gaussian(prior, A, noise).observe(y=y), method="nuts", backend="numpyro",
                     chains=2, draws=1000, warmup=300, seed=0, progress=False)
    draws = np.asarray(post.samples["x"])                                  # (chain, draw, 2)
    for i in range(2):
        ess = float(az.ess(draws[..., i]))
        sd = np.sqrt(exact.covariance()[i, i])
        assert abs(draws[..., i].mean() - exact.mean()[i]) < 4 * sd / np.sqrt(ess)
