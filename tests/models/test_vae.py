import numpy as np
import pytest

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
import scipy.stats as st  # noqa: E402

from models import VAEConfig, VAEPrior  # noqa: E402
from models.data import load_digits  # noqa: E402
from models.testing import edit_checkpoint_config  # noqa: E402
from ppl.errors import CheckpointError, ObservationError  # noqa: E402

SMALL = dict(latent_dim=3, hidden_dim=16, num_hidden=1)
TINY = dict(steps=10, batch_size=32, seed=1, progress=False)


@pytest.fixture(scope="module")
def digits():
    return load_digits("test").images[:200]


@pytest.fixture(scope="module", params=["gaussian", "bernoulli"])
def tiny_vae(request, digits):
    data = digits if request.param == "gaussian" else (digits > 0).astype(np.float64)
    return VAEPrior.train(data, vae=VAEConfig(dim=64, likelihood=request.param, **SMALL), **TINY), data


def test_training_and_sampling_shapes(tiny_vae):
    prior, _ = tiny_vae
    assert prior.training_losses.shape == (10,) and np.all(np.isfinite(prior.training_losses))
    assert tuple(prior.sample(5).shape) == (5, 1, 8, 8)
    assert np.asarray(prior.to("jax").sample(5)).shape == (5, 1, 8, 8)


def test_checkpoint_loads_equal_on_both_backends(tiny_vae, tmp_path):
    prior, data = tiny_vae
    path = prior.save(tmp_path / "vae")
    on_torch, on_jax = VAEPrior.load(path, "torch"), VAEPrior.load(path, "jax")
    x = data[:6].astype(np.float32)
    eps = np.random.default_rng(0).standard_normal((8, 6, 3)).astype(np.float32)
    expected = prior.log_prob_given_noise(torch.as_tensor(x), torch.as_tensor(eps)).numpy()
    np.testing.assert_array_equal(on_torch.log_prob_given_noise(torch.as_tensor(x), torch.as_tensor(eps)).numpy(),
                                  expected)
    np.testing.assert_allclose(np.asarray(on_jax.log_prob_given_noise(x, eps)), expected, rtol=1e-5)
    z = eps[0]
    np.testing.assert_allclose(np.asarray(on_jax.decode(z)), on_torch.decode(torch.as_tensor(z)).numpy(),
                               rtol=1e-5, atol=1e-5)


def test_iwae_bound_is_at_least_the_elbo(tiny_vae):
    prior, data = tiny_vae
    x = torch.as_tensor(data[:20], dtype=torch.float32)
    elbos = np.stack([prior.log_prob(x, num_samples=1, seed=s).numpy() for s in range(64)])
    iwae = prior.log_prob(x, num_samples=256, seed=0).numpy()
    # E[IWAE_K] >= ELBO; allow the Monte Carlo error of the 64-sample ELBO estimate.
    assert iwae.mean() >= elbos.mean() - 4 * elbos.mean(axis=1).std() / 8


def test_iwae_equals_exact_log_prob_for_linear_gaussian_vae():
    """Zero weights make p(x|z) = N(b, s^2) independent of z: the bound is exact for any K."""
    from models import vae_net

    config = VAEConfig(dim=4, likelihood="gaussian", **SMALL)
    from models.diffusion_config import Normalization
    from models.vae_config import VAEPriorConfig

    weights = {k: np.zeros(v) for k, v in vae_net.param_shapes(config).items()}
    weights["decoder.1.bias"] = np.array([0.5, -1.0, 0.0, 2.0])
    weights["log_scale"] = np.log(np.array([1.0, 0.5, 2.0, 1.5]))
    prior = VAEPrior(VAEPriorConfig(config, Normalization((0.0,) * 4, 2.0), (4,)), weights, dtype="float64")
    x = np.random.default_rng(0).standard_normal((5, 4))
    expected = st.norm(2.0 * weights["decoder.1.bias"], 2.0 * np.exp(weights["log_scale"])).logpdf(x).sum(-1)
    np.testing.assert_allclose(prior.log_prob(torch.as_tensor(x), num_samples=3).numpy(), expected, rtol=1e-10)


def test_bad_inputs_and_checkpoints(digits, tmp_path):
    with pytest.raises(ObservationError, match="0 or 1"):
        VAEPrior.train(digits, likelihood="bernoulli", **TINY)
    path = VAEPrior.train(digits, vae=VAEConfig(dim=64, **SMALL), **TINY).save(tmp_path / "vae")
    edit_checkpoint_config(path, "vae", latent_dim=4)
    with pytest.raises(CheckpointError, match="has shape"):
        VAEPrior.load(path, backend="jax")
