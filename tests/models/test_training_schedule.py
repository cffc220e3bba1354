"""Learning-rate schedules: the same multiplier per step on torch and JAX, exact resume."""
import os
from dataclasses import dataclass

import numpy as np
import pytest

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
pytest.importorskip("optax")
import jax.numpy as jnp  # noqa: E402

from models import DiffusionPrior, MLPConfig, two_moons  # noqa: E402
from models import training  # noqa: E402
from models.train_state import load_latest_train_state  # noqa: E402
from models.training import LRSchedule, TrainConfig  # noqa: E402
from ppl.errors import CheckpointError  # noqa: E402

SCHEDULE = LRSchedule(decay_steps=20, warmup_steps=5, shape="cosine", final_fraction=0.1)
GRADIENT = np.array([1.0, -2.0, 0.5], dtype=np.float32)
W0 = np.array([0.3, -0.1, 0.2], dtype=np.float32)


@dataclass(frozen=True)
class LinearTask:
    """loss(w) = GRADIENT . w: a constant gradient, so each Adam update is exactly -lr_k * sign(GRADIENT)
    (up to eps) and the loss history traces the learning rate of every step."""

    name: str = "linear"
    state_kind: str = "linear_training_state"

    def build(self, seed):
        module = torch.nn.Module()
        module.w = torch.nn.Parameter(torch.as_tensor(W0.copy()))
        return module

    def init_weights(self, seed):
        return {"w": W0.copy()}

    def loss(self, module, batch, generator):
        return (module.w * torch.as_tensor(GRADIENT)).sum()

    def jax_loss(self, params, batch, key):
        return jnp.sum(params["w"] * GRADIENT)

    def meta(self):
        return {"task": "linear"}


def test_factor_matches_the_formula():
    steps = np.arange(30)
    cosine = 0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * np.clip((steps - 5) / 15, 0, 1)))
    expected = np.where(steps < 5, (steps + 1) / 5, cosine)
    np.testing.assert_allclose([SCHEDULE.factor(k) for k in steps], expected, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(SCHEDULE.factor(jnp.arange(30), jnp)), expected, rtol=1e-6)
    linear = LRSchedule(decay_steps=10, shape="linear")
    assert linear.factor(0) == 1.0 and linear.factor(5) == 0.5 and linear.factor(12) == 0.0


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_every_step_uses_the_scheduled_rate(backend):
    train = TrainConfig(steps=30, batch_size=2, lr=0.1, grad_clip=None, lr_schedule=SCHEDULE)
    result = training.fit((np.zeros((4, 1), np.float32),), LinearTask(), train, progress=False, backend=backend)
    # losses[k] = GRADIENT . w_k with w_k = W0 - sum_{j<k} lr f(j) sign(GRADIENT): each step lowers the
    # loss by lr f(k) |GRADIENT|_1; float32 Adam is exact to ~1e-5 relative, while neighbouring
    # steps' rates differ by 1-50% during warm-up and decay (an off-by-one step would show).
    rates = 0.1 * np.array([SCHEDULE.factor(k) for k in range(29)])
    np.testing.assert_allclose(-np.diff(result.losses), np.abs(GRADIENT).sum() * rates, rtol=1e-4)


def test_constant_lr_without_a_schedule_and_older_resume_keys():
    train = TrainConfig(steps=6, batch_size=2, lr=0.1, grad_clip=None)
    result = training.fit((np.zeros((4, 1), np.float32),), LinearTask(), train, progress=False)
    np.testing.assert_allclose(np.diff(result.losses), -0.1 * np.abs(GRADIENT).sum(), atol=1e-5)
    assert "lr_schedule" not in train.resume_key()  # checkpoints from before schedules still resume
    assert TrainConfig(lr_schedule=SCHEDULE).resume_key()["lr_schedule"]["decay_steps"] == 20


def test_invalid_schedules_rejected():
    with pytest.raises(ValueError, match="unknown lr schedule shape 'step'"):
        LRSchedule(decay_steps=10, shape="step")
    with pytest.raises(ValueError, match="warmup_steps < decay_steps"):
        LRSchedule(decay_steps=10, warmup_steps=10)


NET = MLPConfig(data_dim=2, hidden_dim=16, num_blocks=1, time_embed_dim=8)
DIFFUSION = dict(batch_size=32, seed=3, net=NET, progress=False, checkpoint_every=5, formulation="edm", lr=1e-2,
                 lr_schedule=LRSchedule(decay_steps=16, warmup_steps=4))


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_resume_with_a_schedule_is_exact(backend, tmp_path, monkeypatch):
    moons = two_moons(400, np.random.default_rng(0))
    run = lambda **kw: DiffusionPrior.train(moons, steps=20, backend=backend, **DIFFUSION, **kw)  # noqa: E731
    reference = run()
    real_step, calls = training._step, []

    def crashing_step(*args):
        calls.append(1)
        if len(calls) == 13:  # after the checkpoint at step 10, mid-decay
            raise KeyboardInterrupt
        return real_step(*args)

    monkeypatch.setattr(training, "_step", crashing_step)
    with pytest.raises(KeyboardInterrupt):
        run(checkpoint_dir=tmp_path)
    monkeypatch.setattr(training, "_step", real_step)
    assert load_latest_train_state(tmp_path, "diffusion_training_state").step == 10
    resumed = run(checkpoint_dir=tmp_path)
    assert all(np.array_equal(reference.weights[k], resumed.weights[k]) for k in reference.weights)
    np.testing.assert_array_equal(reference.training_losses, resumed.training_losses)
    assert sorted(os.listdir(tmp_path)) == ["step_00000015", "step_00000020"]


def test_resume_refuses_another_schedule(tmp_path):
    moons = two_moons(200, np.random.default_rng(0))
    DiffusionPrior.train(moons, steps=5, checkpoint_dir=tmp_path, **DIFFUSION)
    other = {**DIFFUSION, "lr_schedule": LRSchedule(decay_steps=30, warmup_steps=4)}
    with pytest.raises(CheckpointError, match="different 'train'"):
        DiffusionPrior.train(moons, steps=10, checkpoint_dir=tmp_path, **other)


def test_recipes_decay_to_zero_at_the_planned_step():
    from models.diffusion_recipes import RECIPES

    for recipe in RECIPES.values():
        schedule = recipe.train_kwargs(3000)["lr_schedule"]
        assert schedule.factor(recipe.warmup_steps - 1) == 1.0 and schedule.factor(1500) < 1.0
        assert schedule.factor(2999) < 1e-5 and schedule.factor(3000) == 0.0
        assert recipe.train_kwargs(10)["lr_schedule"].decay_steps == recipe.warmup_steps + 1  # short smoke runs
