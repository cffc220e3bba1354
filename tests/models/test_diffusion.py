import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

from models import DiffusionPrior, MLPConfig, two_moons  # noqa: E402
from models import training  # noqa: E402
from ppl.errors import CheckpointError, ObservationError  # noqa: E402

TINY = dict(batch_size=32, seed=3, net=MLPConfig(data_dim=2, hidden_dim=16, num_blocks=1, time_embed_dim=8),
            progress=False, checkpoint_every=5)


@pytest.fixture(scope="module")
def moons():
    return two_moons(400, np.random.default_rng(0))


@pytest.fixture(scope="module", params=["vp", "edm"])
def tiny_prior(request, moons):
    return DiffusionPrior.train(moons, steps=15, formulation=request.param, **TINY)


def _same_weights(a, b):
    return set(a) == set(b) and all(np.array_equal(a[k], b[k]) for k in a)


def test_resume_after_interruption_is_exact(moons, tmp_path, monkeypatch):
    reference = DiffusionPrior.train(moons, steps=20, formulation="edm", **TINY)
    real_step, calls = training._step, []

    def crashing_step(*args, **kwargs):
        calls.append(1)
        if len(calls) == 13:  # after the checkpoint at step 10, before the one at 15
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(training, "_step", crashing_step)
    with pytest.raises(KeyboardInterrupt):
        DiffusionPrior.train(moons, steps=20, formulation="edm", checkpoint_dir=tmp_path, **TINY)
    monkeypatch.setattr(training, "_step", real_step)
    assert sorted(os.listdir(tmp_path)) == ["step_00000005", "step_00000010"]
    resumed = DiffusionPrior.train(moons, steps=20, formulation="edm", checkpoint_dir=tmp_path, **TINY)
    assert _same_weights(reference.weights, resumed.weights)
    np.testing.assert_array_equal(reference.training_losses, resumed.training_losses)
    assert sorted(os.listdir(tmp_path)) == ["step_00000015", "step_00000020"]


def test_resume_refuses_other_settings(moons, tmp_path):
    DiffusionPrior.train(moons, steps=5, formulation="edm", checkpoint_dir=tmp_path, **TINY)
    with pytest.raises(CheckpointError, match="different 'train'"):
        DiffusionPrior.train(moons, steps=10, formulation="edm", checkpoint_dir=tmp_path, **dict(TINY, seed=4))
    with pytest.raises(CheckpointError, match="different '(diffusion|data_sha256)'"):
        DiffusionPrior.train(moons[:-1], steps=10, formulation="edm", checkpoint_dir=tmp_path, **TINY)


def test_training_loss_recorded(tiny_prior):
    assert tiny_prior.training_losses.shape == (15,) and np.all(np.isfinite(tiny_prior.training_losses))


def test_save_load_torch_and_jax_agree(tiny_prior, tmp_path):
    tiny_prior.save(tmp_path / "prior")
    on_torch = DiffusionPrior.load(tmp_path / "prior", backend="torch")
    on_jax = DiffusionPrior.load(tmp_path / "prior", backend="jax")
    x = np.random.default_rng(1).standard_normal((9, 2)).astype(np.float32)
    times = on_torch.sampling_times(6)[:-1]
    for t in times:
        c_noise = np.full(9, float(t), np.float32)
        raw = tiny_prior.backend.apply(torch.as_tensor(x), torch.as_tensor(c_noise)).numpy()
        np.testing.assert_allclose(np.asarray(on_jax.backend.apply(jnp.asarray(x), jnp.asarray(c_noise))), raw,
                                   atol=1e-5, rtol=0)
        # At high noise the VP denoiser divides by alpha ~ 0.01, amplifying float32
        # round-off of the (matching) network output, hence the small rtol.
        expected = tiny_prior.denoise(torch.as_tensor(x), float(t)).numpy()
        np.testing.assert_array_equal(on_torch.denoise(torch.as_tensor(x), float(t)).numpy(), expected)
        np.testing.assert_allclose(np.asarray(on_jax.denoise(jnp.asarray(x), float(t))), expected, atol=1e-5, rtol=1e-6)
        np.testing.assert_allclose(np.asarray(on_jax.score(jnp.asarray(x), float(t))),
                                   on_torch.score(torch.as_tensor(x), float(t)).numpy(), rtol=1e-4, atol=1e-4)


def test_float64_backends_agree(tiny_prior):
    x = np.random.default_rng(2).standard_normal((5, 2))
    t = np.linspace(0.05, 0.9, 5)
    out_torch = tiny_prior.to("torch", "float64").denoise(torch.as_tensor(x), torch.as_tensor(t)).numpy()
    with jax.enable_x64(True):
        out_jax = np.asarray(tiny_prior.to("jax", "float64").denoise(jnp.asarray(x), jnp.asarray(t)))
    np.testing.assert_allclose(out_jax, out_torch, atol=1e-10, rtol=0)


def test_score_is_tweedie_of_denoiser(tiny_prior):
    x = torch.randn(6, 2, generator=torch.Generator().manual_seed(0))
    t = torch.full((6,), 0.3)
    alpha, sigma = tiny_prior.alpha(t)[:, None], tiny_prior.sigma(t)[:, None]
    torch.testing.assert_close(tiny_prior.score(x, t) * sigma**2, alpha * tiny_prior.denoise(x, t) - x)


def test_denoiser_differentiable_in_input(tiny_prior):
    x = torch.zeros(3, 2, requires_grad=True)
    tiny_prior.denoise(x, 0.5).sum().backward()
    assert x.grad is not None and torch.all(torch.isfinite(x.grad))


@pytest.mark.parametrize("sampler", ["ddpm", "ddim", "heun"])
def test_sample_shapes_both_backends(tiny_prior, sampler):
    draws = tiny_prior.sample(7, seed=0, sampler=sampler, num_steps=4)
    assert tuple(draws.shape) == (7, 2) and torch.all(torch.isfinite(draws))
    again = tiny_prior.sample(7, seed=0, sampler=sampler, num_steps=4)
    torch.testing.assert_close(draws, again, rtol=0, atol=0)
    assert np.asarray(tiny_prior.to("jax").sample(7, sampler=sampler, num_steps=4)).shape == (7, 2)


def test_image_event_shape_round_trip(tmp_path):
    from models.data import load_digits

    images = load_digits("test").images[:64]
    prior = DiffusionPrior.train(images, steps=2, batch_size=8, progress=False,
                                 net=MLPConfig(data_dim=64, hidden_dim=16, num_blocks=1))
    assert tuple(prior.sample(3, num_steps=2).shape) == (3, 1, 8, 8)
    loaded = DiffusionPrior.load(prior.save(tmp_path / "digits"), backend="jax")
    assert loaded.event_shape == (1, 8, 8)


def test_normalization_pullback(moons):
    from models.diffusion_config import Normalization

    norm = Normalization.fit(moons)
    A, u = np.array([[1.0, 2.0], [0.5, -1.0], [0.0, 3.0]]), norm.forward(moons[:4])
    A_u, y_u = norm.pullback_linear(A, np.zeros(3))
    np.testing.assert_allclose(moons[:4] @ A.T, u @ A_u.T - y_u, atol=1e-12)


def test_load_rejects_mismatched_weights(tiny_prior, tmp_path):
    import json

    path = tiny_prior.save(tmp_path / "prior")
    header = json.loads((path / "config.json").read_text())
    header["config"]["net"]["hidden_dim"] = 32
    (path / "config.json").write_text(json.dumps(header))
    with pytest.raises(CheckpointError, match="has shape"):
        DiffusionPrior.load(path)


def test_load_rejects_training_state(moons, tmp_path):
    DiffusionPrior.train(moons, steps=5, formulation="edm", checkpoint_dir=tmp_path, **TINY)
    with pytest.raises(CheckpointError, match="kind is 'diffusion_training_state'"):
        DiffusionPrior.load(tmp_path / "step_00000005")


def test_bad_training_data():
    with pytest.raises(ObservationError, match="NaN"):
        DiffusionPrior.train(np.array([[0.0, np.nan], [1.0, 2.0]]), steps=1, progress=False)


def _exact_gaussian_edm_prior(backend: str, sigma_data: float = 0.7):
    """An EDM prior whose network outputs 0: D(u; sigma) = c_skip u = sigma_d^2 / (sigma^2 + sigma_d^2) u,
    the exact denoiser of N(0, sigma_d^2 I). So every sampler targets a known law without training."""
    from models.diffusion import DiffusionPrior
    from models.diffusion_config import DiffusionConfig, Normalization
    from models.diffusion_task import DiffusionTask
    from models.formulations import EDMFormulation
    from models.nets.spec import MLPConfig

    config = DiffusionConfig(EDMFormulation(sigma_data=sigma_data),
                             MLPConfig(data_dim=2, hidden_dim=16, num_blocks=1, time_embed_dim=8),
                             Normalization((0.0, 0.0), 1.0), (2,))
    weights = DiffusionTask(config).init_weights(0)
    weights["output.weight"][:] = 0.0
    weights["output.bias"][:] = 0.0
    return DiffusionPrior(config, weights, backend=backend)


def _ddpm_variance(prior, t: float, num_steps: int, sigma_d: float) -> float:
    """Exact variance of ancestral (DDPM) draws of N(0, sigma_d^2) with the exact denoiser, from u_t at t.

    Each step maps var -> (c + r (1 - c))^2 var + s^2 (1 - r), c = sigma_d^2 / (sigma_d^2 + t^2),
    r = s^2 / t^2 (EDM: alpha = 1): the point estimate of x0 drops Var(x0 | u_t), so coarse grids
    come out narrow (64 Karras steps: 15% too little variance).
    """
    times = prior.sampling_times(num_steps)
    times = np.concatenate([[t], times[times < t]])
    var = sigma_d**2 + t**2
    for t_cur, t_next in zip(times[:-1], times[1:]):
        c, r = sigma_d**2 / (sigma_d**2 + t_cur**2), (t_next / t_cur) ** 2
        var = (c + r * (1 - c)) ** 2 * var + t_next**2 * (1 - r)
    return var


@pytest.mark.parametrize("backend", ["torch", "jax"])
@pytest.mark.parametrize("sampler", ["heun", "ddpm"])
def test_sample_from_an_intermediate_time_reaches_the_sampler_law(backend, sampler):
    """u_t ~ N(0, (sigma_d^2 + t^2) I) at t = 2 continued to 0: Heun (an ODE solver) must land on
    N(0, sigma_d^2 I) up to 1% discretisation error, DDPM on its own exact recursion (above)."""
    sigma_d, t, n, steps = 0.7, 2.0, 20000, 64
    prior = _exact_gaussian_edm_prior(backend, sigma_d)
    u_t = np.random.default_rng(3).standard_normal((n, 2)) * np.sqrt(sigma_d**2 + t**2)
    x = np.asarray(prior.sample_from(u_t.astype(np.float32), t, seed=1, sampler=sampler, num_steps=steps))
    expected, slack = (sigma_d**2, 0.01 * sigma_d**2) if sampler == "heun" else (
        _ddpm_variance(prior, t, steps, sigma_d), 1e-4)
    # sd of a sample variance of n normals: var * sqrt(2 / n).
    var = x.var(axis=0)
    assert np.all(np.abs(var - expected) < 5 * expected * np.sqrt(2 / n) + slack), (var, expected)
    assert np.all(np.abs(x.mean(axis=0)) < 5 * np.sqrt(expected / n))


def test_sample_from_rejects_bad_times_and_shapes():
    prior = _exact_gaussian_edm_prior("torch")
    with pytest.raises(ValueError, match="t must lie"):
        prior.sample_from(np.zeros((3, 2), np.float32), 500.0)
    with pytest.raises(ValueError, match=r"u_t must have shape \(n, 2\)"):
        prior.sample_from(np.zeros((3, 5), np.float32), 1.0)
