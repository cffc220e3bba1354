"""Samplers and formulations checked against exact (Gaussian-mixture) denoisers."""
import numpy as np
import pytest

from models.formulations import EDMFormulation, VPFormulation
from models.samplers import SAMPLERS, initial_std
from models.schedules import ALPHA_BAR_MIN, VP_SCHEDULES, karras_sigmas

FORMULATIONS = [VPFormulation("cosine"), VPFormulation("linear"), EDMFormulation(sigma_max=40.0)]
STEPS = {"ddpm": 200, "ddim": 100, "heun": 40}


@pytest.mark.parametrize("formulation", FORMULATIONS, ids=["vp-cosine", "vp-linear", "edm"])
def test_training_target_maps_back_to_clean_data(formulation, rng):
    x0, eps = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    t = np.array([[0.01], [0.2], [0.5], [0.9], [1.0]])
    x_t = formulation.alpha(t) * x0 + formulation.sigma(t) * eps
    target = formulation.training_target(x0, eps, x_t, t)
    np.testing.assert_allclose(formulation.denoise_from_output(target, x_t, t), x0, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", sorted(VP_SCHEDULES))
def test_vp_schedules_decrease_from_one(name):
    t = np.linspace(0, 1, 101)
    alpha_bar = VP_SCHEDULES[name](t)
    assert alpha_bar[0] == pytest.approx(1.0) and np.all(np.diff(alpha_bar) <= 0)
    assert alpha_bar[-1] >= ALPHA_BAR_MIN * 0.1 and alpha_bar[-1] < 1e-3


def test_karras_grid():
    sigmas = karras_sigmas(10, 0.002, 80.0)
    assert sigmas.shape == (11,) and sigmas[0] == pytest.approx(80.0) and sigmas[-2] == pytest.approx(0.002)
    assert sigmas[-1] == 0.0 and np.all(np.diff(sigmas) < 0)


def _exact_denoiser(gmm, formulation):
    def denoise(x, t):
        return gmm.diffused_denoise(x, float(formulation.alpha(np.float64(t))), float(formulation.sigma(np.float64(t))))

    return denoise


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
@pytest.mark.parametrize("formulation", [FORMULATIONS[0], FORMULATIONS[2]], ids=["vp", "edm"])
def test_sampler_with_exact_denoiser_recovers_moments(full_gmm, sampler, formulation):
    n = 4000
    gen = np.random.default_rng(11)
    times = formulation.sampling_times(STEPS[sampler])
    x_init = initial_std(formulation, times[0]) * gen.standard_normal((n, 2))
    noise = gen.standard_normal((len(times) - 1, n, 2))
    draws = SAMPLERS[sampler](_exact_denoiser(full_gmm, formulation), times, x_init, noise, formulation, np)
    mean, cov = full_gmm.mean(), full_gmm.covariance()
    assert np.all(np.abs(draws.mean(0) - mean) < 4 * np.sqrt(np.diag(cov) / n))
    centred = draws - mean
    products = (centred[:, :, None] * centred[:, None, :]).reshape(n, -1)
    assert np.all(np.abs(products.mean(0) - cov.ravel()) < 4 * products.std(0) / np.sqrt(n))
    # Mode weights: the fraction nearest each component mean matches the exact draws.
    exact = full_gmm.sample(n, gen)
    nearest = lambda z: np.argmin(((z[:, None] - full_gmm.means[None]) ** 2).sum(-1), axis=1)  # noqa: E731
    frac, ref = np.bincount(nearest(draws), minlength=3) / n, np.bincount(nearest(exact), minlength=3) / n
    assert np.all(np.abs(frac - ref) < 4 * np.sqrt(2 * ref * (1 - ref) / n))
