"""The exact mixture denoiser handed to deepinv (``benchmarks.gmm_inverse_deepinv``).

It is written again in torch because that script runs in deepinv's own environment;
here it is checked against ``models.gmm``, the denoiser ppl's samplers use.
"""
import numpy as np
import pytest
import torch

from benchmarks.gmm_inverse_deepinv import mixture_denoise
from models.gmm import GaussianMixturePrior


@pytest.mark.parametrize("shared", [True, False], ids=["shared-variances", "per-component-variances"])
@pytest.mark.parametrize("per_row_sigma", [False, True])
def test_mixture_denoiser_matches_the_models_one(shared, per_row_sigma):
    rng = np.random.default_rng(3)
    k, d, n = 25, 12, 64
    weights = rng.dirichlet(np.ones(k))
    means = rng.normal(0.0, 8.0, (k, d))
    variances = np.ones((k, d)) if shared else rng.uniform(0.2, 2.0, (k, d))
    sigma = rng.uniform(0.1, 3.0, n) if per_row_sigma else np.array(0.7)
    z = rng.normal(0.0, 10.0, (n, d))
    expected = GaussianMixturePrior.diagonal(weights, means, variances).ve_denoise(z, sigma)
    got = mixture_denoise(torch.as_tensor(z), torch.as_tensor(sigma).reshape(-1, 1) ** 2,
                          torch.as_tensor(np.log(weights)), torch.as_tensor(means),
                          torch.as_tensor(variances)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)
