"""Training on JAX: same loop, optimiser settings, EMA and checkpoint format as torch."""
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
pytest.importorskip("optax")
import jax.numpy as jnp  # noqa: E402

from models import DiffusionPrior, FlowConfig, FlowPrior, MLPConfig, VAEConfig, VAEPrior, two_moons  # noqa: E402
from models import training  # noqa: E402
from models.train_state import load_latest_train_state  # noqa: E402
from ppl.errors import CheckpointError  # noqa: E402

NET = MLPConfig(data_dim=2, hidden_dim=16, num_blocks=1, time_embed_dim=8)
DIFFUSION = dict(batch_size=32, seed=3, net=NET, progress=False, checkpoint_every=5)
FLOW = dict(batch_size=32, seed=3, progress=False, checkpoint_every=5,
            flow=FlowConfig(dim=2, coupling="affine", hidden_dim=16, num_hidden=1, num_layers=2))


@pytest.fixture(scope="module")
def moons():
    return two_moons(400, np.random.default_rng(0))


def _same(a, b):
    return set(a) == set(b) and all(np.array_equal(a[k], b[k]) for k in a)


def _task_and_data(kind, moons):
    """A prior's task and normalised float32 data, built as its ``train`` would."""
    from models.diffusion_config import DiffusionConfig, Normalization
    from models.diffusion_task import DiffusionTask
    from models.flow_config import FlowPriorConfig
    from models.flow_task import FlowTask
    from models.formulations import VPFormulation
    from models.vae_config import VAEPriorConfig
    from models.vae_task import VAETask

    norm = Normalization.fit(moons)
    data = [norm.forward(moons).astype(np.float32)]
    tasks = {
        "diffusion": lambda: DiffusionTask(DiffusionConfig(VPFormulation(), NET, norm, (2,))),
        "flow": lambda: FlowTask(FlowPriorConfig(FLOW["flow"], norm, None, (2,))),
        "vae": lambda: VAETask(VAEPriorConfig(VAEConfig(dim=2, latent_dim=2, hidden_dim=16, num_hidden=1),
                                              norm, (2,))),
    }
    return tasks[kind](), data


@pytest.mark.parametrize("kind", ["diffusion", "flow", "vae"])
def test_jax_steps_reduce_the_loss(kind, moons):
    task, data = _task_and_data(kind, moons)
    train = training.TrainConfig(steps=40, batch_size=64, lr=1e-2, seed=0)
    result = training.fit(data, task, train, progress=False, backend="jax")
    assert result.losses.shape == (40,) and np.all(np.isfinite(result.losses))
    # The loss on all the data with one fixed key: no minibatch noise in the comparison.
    full = [jnp.asarray(a) for a in data]
    loss = jax.jit(lambda w: task.jax_loss(w, full, jax.random.key(7)))
    before = float(loss({k: jnp.asarray(v) for k, v in task.init_weights(0).items()}))
    after = float(loss({k: jnp.asarray(v) for k, v in result.weights.items()}))
    assert after < before - 0.05 * abs(before)


def test_jax_trained_diffusion_checkpoint_loads_in_torch(moons, tmp_path):
    prior = DiffusionPrior.train(moons, steps=10, formulation="edm", backend="jax", **DIFFUSION)
    assert prior.backend.name == "jax" and prior.training_losses.shape == (10,)
    on_torch = DiffusionPrior.load(prior.save(tmp_path / "prior"), backend="torch")
    x = np.random.default_rng(1).standard_normal((9, 2)).astype(np.float32)
    for t in (0.05, 0.5, 5.0):
        np.testing.assert_allclose(on_torch.denoise(torch.as_tensor(x), t).numpy(),
                                   np.asarray(prior.denoise(jnp.asarray(x), t)), atol=1e-5, rtol=1e-5)


def test_jax_trained_flow_checkpoint_loads_in_torch(moons, tmp_path):
    context = moons[:, :1] * 2.0
    flow = FlowConfig(dim=2, coupling="spline", context_dim=1, hidden_dim=16, num_hidden=1, num_layers=2)
    prior = FlowPrior.train(moons, context=context, steps=10, backend="jax", **{**FLOW, "flow": flow})
    on_torch = FlowPrior.load(prior.save(tmp_path / "flow"), backend="torch")
    x, ctx = moons[:20].astype(np.float32), context[:20].astype(np.float32)
    np.testing.assert_allclose(on_torch.log_prob(torch.as_tensor(x), torch.as_tensor(ctx)).numpy(),
                               np.asarray(prior.log_prob(x, ctx)), atol=1e-5, rtol=1e-5)


def test_jax_vae_trains_and_loads_in_torch(moons, tmp_path):
    vae = VAEConfig(dim=2, latent_dim=2, hidden_dim=16, num_hidden=1)
    prior = VAEPrior.train(moons, vae=vae, steps=5, batch_size=32, progress=False, backend="jax")
    on_torch = VAEPrior.load(prior.save(tmp_path / "vae"), backend="torch")
    z = np.random.default_rng(2).standard_normal((6, 2)).astype(np.float32)
    np.testing.assert_allclose(on_torch._mean(on_torch.params, torch.as_tensor(z)).numpy(),
                               np.asarray(prior._mean(prior.params, jnp.asarray(z))), atol=1e-5, rtol=1e-5)


def _interrupted(monkeypatch, at_call, train_fn):
    """Run ``train_fn`` with training stopped (KeyboardInterrupt) at step call ``at_call``."""
    real_step, calls = training._step, []

    def crashing_step(*args, **kwargs):
        calls.append(1)
        if len(calls) == at_call:
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(training, "_step", crashing_step)
    with pytest.raises(KeyboardInterrupt):
        train_fn()
    monkeypatch.setattr(training, "_step", real_step)


@pytest.mark.parametrize("kind", ["diffusion", "flow"])
def test_jax_resume_after_interruption_is_exact(kind, moons, tmp_path, monkeypatch):
    def run(**kwargs):
        if kind == "diffusion":
            return DiffusionPrior.train(moons, steps=20, formulation="edm", backend="jax", **DIFFUSION, **kwargs)
        return FlowPrior.train(moons, steps=20, backend="jax", **FLOW, **kwargs)

    reference = run()
    _interrupted(monkeypatch, 13, lambda: run(checkpoint_dir=tmp_path))  # after the checkpoint at step 10
    assert sorted(os.listdir(tmp_path)) == ["step_00000005", "step_00000010"]
    resumed = run(checkpoint_dir=tmp_path)
    assert _same(reference.weights, resumed.weights)  # the EMA, so Adam state and key were restored too
    np.testing.assert_array_equal(reference.training_losses, resumed.training_losses)
    assert sorted(os.listdir(tmp_path)) == ["step_00000015", "step_00000020"]


def test_training_states_share_one_format(moons, tmp_path):
    for backend in ("torch", "jax"):
        DiffusionPrior.train(moons, steps=5, formulation="vp", backend=backend,
                             checkpoint_dir=tmp_path / backend, **DIFFUSION)
    on_torch, on_jax = (load_latest_train_state(tmp_path / b, "diffusion_training_state") for b in ("torch", "jax"))
    for part in ("weights", "ema", "optimizer"):
        a, b = getattr(on_torch, part), getattr(on_jax, part)
        assert {k: v.shape for k, v in a.items()} == {k: v.shape for k, v in b.items()}, part
    # Both start from the same seeded network.
    assert on_jax.meta["backend"] == "jax" and on_torch.meta["backend"] == "torch"
    np.testing.assert_array_equal(on_jax.optimizer["0.step"], on_torch.optimizer["0.step"])


def test_resume_refuses_another_backend(moons, tmp_path):
    DiffusionPrior.train(moons, steps=5, formulation="edm", checkpoint_dir=tmp_path, **DIFFUSION)
    with pytest.raises(CheckpointError, match="different 'backend' \\('torch', not 'jax'\\)"):
        DiffusionPrior.train(moons, steps=10, formulation="edm", checkpoint_dir=tmp_path, backend="jax", **DIFFUSION)


def test_unknown_backend_rejected(moons):
    with pytest.raises(ValueError, match="unknown training backend 'tensorflow'; choose from \\['jax', 'torch'\\]"):
        FlowPrior.train(moons, steps=2, backend="tensorflow", **FLOW)
    with pytest.raises(ValueError, match="unknown training backend"):
        training.trainer_class("numpy")


def test_states_written_before_backends_were_recorded_resume_on_torch(moons, tmp_path):
    import json

    from models.checkpoint import CONFIG_FILE

    DiffusionPrior.train(moons, steps=5, formulation="edm", checkpoint_dir=tmp_path, **DIFFUSION)
    path = tmp_path / "step_00000005" / CONFIG_FILE
    header = json.loads(path.read_text())
    del header["config"]["backend"]
    path.write_text(json.dumps(header))
    with pytest.raises(CheckpointError, match="different 'backend'"):
        DiffusionPrior.train(moons, steps=6, formulation="edm", checkpoint_dir=tmp_path, backend="jax", **DIFFUSION)
    resumed = DiffusionPrior.train(moons, steps=6, formulation="edm", checkpoint_dir=tmp_path, **DIFFUSION)
    assert resumed.training_losses.shape == (6,)
