"""The convolutional VAE: selectable in VAEConfig, equal on both backends, Bernoulli draws."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")

from models import VAEConfig, VAEPrior, load_digits  # noqa: E402
from models.nets.param_tree import ParamTree  # noqa: E402
from models import vae_net  # noqa: E402

CONV = dict(dim=64, latent_dim=3, architecture="conv", image_shape=(1, 8, 8), channels=(4, 8), num_groups=2)
TINY = dict(steps=5, batch_size=16, seed=1, progress=False)


@pytest.fixture(scope="module", params=["gaussian", "bernoulli"])
def conv_vae(request):
    images = load_digits("test").images[:64]
    data = images if request.param == "gaussian" else (images > 0).astype(np.float64)
    return VAEPrior.train(data, vae=VAEConfig(likelihood=request.param, **CONV), **TINY), data


def test_weights_follow_the_scheme(conv_vae):
    prior, _ = conv_vae
    module = ParamTree(vae_net.init_weights(prior.config.vae, 0))
    assert {k: tuple(v.shape) for k, v in module.state_dict().items()} == vae_net.param_shapes(prior.config.vae)
    assert any(name.startswith("encoder.0.block.conv1") for name in prior.weights)


def test_checkpoint_round_trip_agrees_across_backends(conv_vae, tmp_path):
    prior, data = conv_vae
    path = prior.save(tmp_path / "vae")
    on_torch, on_jax = VAEPrior.load(path, "torch"), VAEPrior.load(path, "jax")
    assert on_jax.config == prior.config
    x = data[:6].astype(np.float32)
    eps = np.random.default_rng(0).standard_normal((4, 6, 3)).astype(np.float32)
    expected = prior.log_prob_given_noise(torch.as_tensor(x), torch.as_tensor(eps)).numpy()
    np.testing.assert_array_equal(
        on_torch.log_prob_given_noise(torch.as_tensor(x), torch.as_tensor(eps)).numpy(), expected)
    np.testing.assert_allclose(np.asarray(on_jax.log_prob_given_noise(x, eps)), expected, rtol=1e-5, atol=1e-4)
    z = eps[:2]  # (2, 6, k): leading axes pass through the convs
    decoded = on_torch.decode(torch.as_tensor(z)).numpy()
    assert decoded.shape == (2, 6, 1, 8, 8)
    np.testing.assert_allclose(np.asarray(on_jax.decode(z)), decoded, rtol=0, atol=1e-5)


def test_observation_noise_draws(conv_vae):
    prior, _ = conv_vae
    means = prior.sample(200, seed=3).numpy()
    draws = prior.sample(200, seed=3, observation_noise=True).numpy()
    assert draws.shape == means.shape == (200, 1, 8, 8)
    if prior.config.vae.likelihood == "bernoulli":
        assert set(np.unique(draws)) <= {0.0, 1.0}
        # Same z, so the pixel frequencies track the decoder's probabilities.
        assert abs(draws.mean() - means.mean()) < 0.03
    else:
        assert not np.allclose(draws, means)
    on_jax = np.asarray(prior.to("jax").sample(5, seed=3, observation_noise=True))
    assert on_jax.shape == (5, 1, 8, 8) and np.all(np.isfinite(on_jax))


def test_invalid_conv_configs():
    with pytest.raises(ValueError, match="image_shape"):
        VAEConfig(dim=64, architecture="conv")
    with pytest.raises(ValueError, match="divisible"):
        VAEConfig(**dict(CONV, channels=(4, 8, 8, 8)))
    with pytest.raises(ValueError, match="unknown architecture"):
        VAEConfig(dim=64, architecture="transformer")
