import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
import scipy.stats as st  # noqa: E402

from models import FlowConfig, FlowPrior, two_moons  # noqa: E402
from models import flow_net, training  # noqa: E402
from models.diffusion_config import Normalization  # noqa: E402
from models.flow_config import FlowPriorConfig  # noqa: E402
from models.testing import edit_checkpoint_config, flip_weight_byte  # noqa: E402
from ppl.errors import CheckpointError, ObservationError  # noqa: E402

TINY = dict(steps=12, batch_size=32, seed=3, progress=False, checkpoint_every=5)
SMALL = dict(hidden_dim=16, num_hidden=1, num_layers=2)


@pytest.fixture(scope="module")
def moons():
    return two_moons(400, np.random.default_rng(0))


def _prior(coupling, weights=None, context_dim=0, norm=None, backend="torch", dtype="float32"):
    flow = FlowConfig(dim=2, coupling=coupling, context_dim=context_dim, **SMALL)
    ctx_norm = Normalization.identity(context_dim) if context_dim else None
    config = FlowPriorConfig(flow, norm or Normalization.identity(2), ctx_norm, (2,))
    return FlowPrior(config, weights or flow_net.init_weights(flow, 0), backend, dtype)


def _random_weights(coupling, context_dim=0, seed=1, scale=0.5):
    """Initial weights with non-zero output layers: a non-trivial, untrained flow."""
    flow = FlowConfig(dim=2, coupling=coupling, context_dim=context_dim, **SMALL)
    gen = np.random.default_rng(seed)
    return {k: v + scale * gen.standard_normal(v.shape).astype(np.float32)
            for k, v in flow_net.init_weights(flow, 0).items()}


@pytest.mark.parametrize("backend", ["torch", "jax"])
@pytest.mark.parametrize("coupling", ["affine", "spline"])
def test_identity_initialised_flow_is_gaussian(coupling, backend):
    norm = Normalization((0.5, -1.0), 2.0)
    prior = _prior(coupling, norm=norm, backend=backend)
    x = np.random.default_rng(0).normal(0.0, 3.0, (50, 2))
    expected = st.multivariate_normal([0.5, -1.0], 4.0 * np.eye(2)).logpdf(x)
    np.testing.assert_allclose(np.asarray(prior.log_prob(x)), expected, rtol=1e-5)


def test_affine_coupling_with_constant_outputs_is_a_known_gaussian():
    # Zero output weights and a fixed bias make each layer z_j = a_j u_j + c_j.
    weights = _prior("affine").weights
    log_scales, shifts = np.array([0.4, -0.3]), np.array([1.0, 0.5])
    for layer, dim in [(0, 1), (1, 0)]:  # layer i transforms the dims with (j + i) odd
        bias = np.zeros(4)  # float64, so the analytic values are exact
        bias[2 * dim:2 * dim + 2] = [3.0 * np.arctanh(log_scales[dim] / 3.0), shifts[dim]]
        weights[f"layers.{layer}.1.bias"] = bias
    prior = _prior("affine", weights, dtype="float64")
    scale = np.exp(log_scales)
    x = np.random.default_rng(1).standard_normal((20, 2))
    expected = st.multivariate_normal(-shifts / scale, np.diag(1 / scale**2)).logpdf(x)
    np.testing.assert_allclose(prior.log_prob(torch.as_tensor(x)).numpy(), expected, rtol=1e-10)


@pytest.mark.parametrize("coupling", ["affine", "spline"])
def test_density_integrates_to_one_and_matches_samples(coupling):
    """The density's mass on a box equals the fraction of exact samples in it."""
    prior = _prior(coupling, _random_weights(coupling, scale=0.3), dtype="float64")
    grid = np.linspace(-8, 8, 321)
    xx, yy = np.meshgrid(grid, grid)
    density = np.exp(prior.log_prob(torch.as_tensor(np.c_[xx.ravel(), yy.ravel()])).numpy())
    mass = density.sum() * (grid[1] - grid[0]) ** 2
    inside = np.mean(np.all(np.abs(prior.sample(20_000, seed=0).numpy()) < 8, axis=1))
    assert inside > 0.9  # the box holds most of the mass, so this checks normalisation
    assert mass == pytest.approx(inside, abs=4 * np.sqrt(inside * (1 - inside) / 20_000) + 3e-3)


@pytest.mark.parametrize("coupling", ["affine", "spline"])
def test_inverse_is_exact(coupling):
    prior = _prior(coupling, _random_weights(coupling, context_dim=1), context_dim=1, dtype="float64")
    z = torch.randn(64, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2
    context = torch.linspace(-1, 1, 64)[:, None]
    u = flow_net.inverse(prior.params, prior.config.flow, z, context, prior.backend.xp)
    back, _ = flow_net.forward(prior.params, prior.config.flow, u, context, prior.backend.xp)
    torch.testing.assert_close(back, z, rtol=0, atol=1e-9)


def test_spline_log_det_matches_autograd():
    prior = _prior("spline", _random_weights("spline"), dtype="float64")
    u = torch.randn(5, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    jac = torch.stack([torch.autograd.functional.jacobian(
        lambda row: flow_net.forward(prior.params, prior.config.flow, row[None], None, prior.backend.xp)[0][0], r)
        for r in u])
    _, log_det = flow_net.forward(prior.params, prior.config.flow, u, None, prior.backend.xp)
    torch.testing.assert_close(log_det, torch.log(torch.det(jac).abs()))


@pytest.mark.parametrize("coupling", ["affine", "spline"])
def test_checkpoint_loads_equal_on_both_backends(moons, coupling, tmp_path):
    context = moons[:, :1] * 2.0
    prior = FlowPrior.train(moons, context=context, coupling=coupling, flow=None, **TINY)
    path = prior.save(tmp_path / "flow")
    on_torch, on_jax = FlowPrior.load(path, "torch"), FlowPrior.load(path, "jax")
    x, ctx = moons[:20].astype(np.float32), context[:20].astype(np.float32)
    expected = prior.log_prob(torch.as_tensor(x), torch.as_tensor(ctx)).numpy()
    np.testing.assert_array_equal(on_torch.log_prob(torch.as_tensor(x), torch.as_tensor(ctx)).numpy(), expected)
    np.testing.assert_allclose(np.asarray(on_jax.log_prob(x, ctx)), expected, rtol=1e-5, atol=1e-5)
    noise = np.random.default_rng(0).standard_normal((20, 2)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(on_jax.sample_from_noise(noise, ctx[0])),
                               on_torch.sample_from_noise(torch.as_tensor(noise), ctx[0]).numpy(),
                               rtol=1e-5, atol=1e-5)


def test_float64_backends_agree():
    prior = _prior("spline", _random_weights("spline"))
    x = np.random.default_rng(2).standard_normal((30, 2)) * 3
    expected = prior.to("torch", "float64").log_prob(torch.as_tensor(x)).numpy()
    with jax.enable_x64(True):
        np.testing.assert_allclose(np.asarray(prior.to("jax", "float64").log_prob(x)), expected, rtol=1e-12)


def test_sample_shapes_and_determinism(moons):
    prior = FlowPrior.train(moons, **TINY)
    assert prior.training_losses.shape == (12,) and np.all(np.isfinite(prior.training_losses))
    draws = prior.sample(7, seed=4)
    assert tuple(draws.shape) == (7, 2) and torch.equal(draws, prior.sample(7, seed=4))
    assert np.asarray(prior.to("jax").sample(7)).shape == (7, 2)


def test_resume_after_interruption_is_exact(moons, tmp_path, monkeypatch):
    reference = FlowPrior.train(moons, **{**TINY, "steps": 20})
    real_step, calls = training._step, []

    def crashing_step(*args, **kwargs):
        calls.append(1)
        if len(calls) == 13:  # after the checkpoint at step 10, before the one at 15
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(training, "_step", crashing_step)
    with pytest.raises(KeyboardInterrupt):
        FlowPrior.train(moons, checkpoint_dir=tmp_path, **{**TINY, "steps": 20})
    monkeypatch.setattr(training, "_step", real_step)
    assert sorted(os.listdir(tmp_path)) == ["step_00000005", "step_00000010"]
    resumed = FlowPrior.train(moons, checkpoint_dir=tmp_path, **{**TINY, "steps": 20})
    assert all(np.array_equal(reference.weights[k], resumed.weights[k]) for k in reference.weights)
    np.testing.assert_array_equal(reference.training_losses, resumed.training_losses)
    with pytest.raises(CheckpointError, match="different 'flow'"):
        FlowPrior.train(moons, checkpoint_dir=tmp_path, coupling="affine", **{**TINY, "steps": 25})


def test_bad_checkpoints_rejected(moons, tmp_path):
    path = FlowPrior.train(moons, **TINY).save(tmp_path / "flow")
    with pytest.raises(CheckpointError, match="kind is 'flow_prior', expected 'vae_prior'"):
        from models import VAEPrior

        VAEPrior.load(path)
    edit_checkpoint_config(path, "flow", hidden_dim=32)
    with pytest.raises(CheckpointError, match="has shape"):
        FlowPrior.load(path)
    edit_checkpoint_config(path, "flow", hidden_dim=64, coupling="nope")
    with pytest.raises(CheckpointError, match="invalid flow_prior config"):
        FlowPrior.load(path)
    path = FlowPrior.train(moons, **TINY).save(tmp_path / "flow2")
    flip_weight_byte(path)
    with pytest.raises(CheckpointError, match="checksum"):
        FlowPrior.load(path, backend="jax")


def test_context_errors_and_bad_data(moons):
    prior = _prior("affine")
    with pytest.raises(ObservationError, match="unconditional"):
        prior.log_prob(moons[:3], context=np.ones(1))
    with pytest.raises(ObservationError, match="NaN"):
        FlowPrior.train(np.array([[0.0, np.nan], [1.0, 2.0]]), **TINY)
