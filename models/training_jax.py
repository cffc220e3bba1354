"""The JAX trainer of ``models.training.fit``: optax Adam, clipping, EMA, exact resume.

Same settings as the torch trainer (Adam with betas 0.9 / 0.999 and eps 1e-8,
global-norm clipping, the same EMA warm-up; torch divides the clip threshold
by norm + 1e-6, optax by the norm itself); one jitted step draws the batch,
differentiates the task's ``jax_loss`` with ``jax.value_and_grad`` over the
flat weight dict and updates weights, Adam state and EMA.

All randomness comes from one JAX key seeded by ``TrainConfig.seed`` and split
every step. Training checkpoints use the torch trainer's layout: weights and
EMA by the shared parameter names, Adam moments as ``"<i>.exp_avg"`` /
``"<i>.exp_avg_sq"`` / ``"<i>.step"`` (``i`` indexes the task's
``init_weights`` order), and the key's raw data (uint32) as ``rng_state``.
"""
from __future__ import annotations

import functools
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from models.train_state import TrainState
from models.training import Task, TrainConfig, ema_rate


def make_optimizer(train: TrainConfig) -> optax.GradientTransformation:
    """Adam as torch's defaults configure it, after optional global-norm clipping."""
    schedule = train.lr_schedule
    # optax counts updates from 0, as the torch trainer counts steps: the same multiplier per update.
    lr = train.lr if schedule is None else (lambda count: train.lr * schedule.factor(count, jnp))
    adam = optax.adam(lr, b1=0.9, b2=0.999, eps=1e-8)
    return adam if train.grad_clip is None else optax.chain(optax.clip_by_global_norm(train.grad_clip), adam)


def make_step(task: Task, train: TrainConfig):
    """Jitted (params, ema, opt_state, key, ema_rate, data) -> (params, ema, opt_state, key, loss).

    Compiled steps are cached per (task, batch size, lr, clipping), so training
    the same model again (or resuming it) in one process does not recompile.
    """
    try:
        hash(task)
    except TypeError:  # an unhashable task: compile for this run only
        return _build_step(task, train.batch_size, make_optimizer(train))
    return _cached_step(task, train.batch_size, train.lr, train.grad_clip, train.lr_schedule)


@functools.lru_cache(maxsize=32)
def _cached_step(task: Task, batch_size: int, lr: float, grad_clip: float | None, lr_schedule: Any = None):
    return _build_step(task, batch_size, make_optimizer(TrainConfig(lr=lr, grad_clip=grad_clip,
                                                                    lr_schedule=lr_schedule)))


def _build_step(task: Task, batch_size: int, optimizer: optax.GradientTransformation):
    def step(params, ema, opt_state, key, rate, data):
        key, key_rows, key_loss = jax.random.split(key, 3)
        rows = jax.random.randint(key_rows, (batch_size,), 0, data[0].shape[0])
        loss, grads = jax.value_and_grad(task.jax_loss)(params, [array[rows] for array in data], key_loss)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        ema = jax.tree.map(lambda old, new: old * rate + new * (1.0 - rate), ema, params)
        return params, ema, opt_state, key, loss

    return jax.jit(step)


@functools.lru_cache(maxsize=32)
def _scan_steps(step):
    """Jitted (carry, rates (k,), data) -> (carry, losses (k,)) running ``step`` k times."""
    def run(carry, rates, data):
        def body(carry, rate):
            *carry, loss = step(*carry, rate, data)
            return tuple(carry), loss

        return jax.lax.scan(body, carry, rates)

    return jax.jit(run)


class JaxTrainer:
    """Mutable state of one JAX training run (weights, EMA, Adam state, key)."""

    def __init__(self, task: Task, train: TrainConfig, data: Sequence[np.ndarray]):
        weights = task.init_weights(train.seed)
        self.names = list(weights)
        self.decay = train.ema_decay
        self.data = [jnp.asarray(array, dtype=jnp.float32) for array in data]
        self.params = _to_jax(weights)
        self.ema = dict(self.params)  # JAX arrays are immutable: sharing them is copying
        self.optimizer = make_optimizer(train)
        self.opt_state = self.optimizer.init(self.params)
        self.key = jax.random.key(train.seed)
        self.losses: list[float] = []
        self._step = make_step(task, train)

    def step(self) -> None:
        rate = ema_rate(self.decay, len(self.losses) + 1)
        self.params, self.ema, self.opt_state, self.key, loss = self._step(
            self.params, self.ema, self.opt_state, self.key, rate, self.data)
        self.losses.append(float(loss))

    def steps(self, count: int) -> None:
        """``count`` steps in one compiled ``lax.scan`` (one dispatch instead of ``count``).

        Same updates as ``count`` calls of ``step``; for short steps the
        per-call dispatch and the loss transfer dominate, so epochs run faster.
        """
        first = len(self.losses) + 1
        rates = jnp.asarray([ema_rate(self.decay, first + i) for i in range(count)], dtype=jnp.float32)
        carry = (self.params, self.ema, self.opt_state, self.key)
        (self.params, self.ema, self.opt_state, self.key), losses = _scan_steps(self._step)(carry, rates, self.data)
        self.losses.extend(float(v) for v in np.asarray(losses))

    def restore(self, state: TrainState) -> None:
        self.params = _to_jax(state.weights)
        self.ema = _to_jax(state.ema)
        self.opt_state = _set_adam_state(self.opt_state, _unflatten_adam(self.names, state.optimizer))
        self.opt_state = _set_schedule_count(self.opt_state, _adam_state(self.opt_state).count)
        self.key = jax.random.wrap_key_data(jnp.asarray(state.rng_state, dtype=jnp.uint32))
        self.losses = [float(v) for v in state.losses]

    def snapshot(self, meta: dict[str, Any]) -> TrainState:
        return TrainState(
            step=len(self.losses),
            weights=_to_numpy(self.params),
            ema=_to_numpy(self.ema),
            optimizer=_flatten_adam(self.names, _adam_state(self.opt_state)),
            rng_state=np.asarray(jax.random.key_data(self.key)).copy(),
            losses=np.asarray(self.losses, dtype=np.float64),
            meta=meta,
        )


def _to_jax(weights: dict[str, np.ndarray]) -> dict[str, jax.Array]:
    return {k: jnp.asarray(v, dtype=jnp.float32) for k, v in weights.items()}


def _to_numpy(params: dict[str, jax.Array]) -> dict[str, np.ndarray]:
    return {k: np.array(v) for k, v in params.items()}


def _is_adam(node: Any) -> bool:
    return isinstance(node, optax.ScaleByAdamState)


def _adam_state(opt_state: Any) -> optax.ScaleByAdamState:
    (adam,) = [n for n in jax.tree_util.tree_leaves(opt_state, is_leaf=_is_adam) if _is_adam(n)]
    return adam


def _set_adam_state(opt_state: Any, adam: optax.ScaleByAdamState) -> Any:
    return jax.tree_util.tree_map(lambda n: adam if _is_adam(n) else n, opt_state, is_leaf=_is_adam)


def _set_schedule_count(opt_state: Any, count: Any) -> Any:
    """An lr schedule's own update count equals Adam's, so the checkpoint need not store it."""
    is_schedule = lambda n: isinstance(n, optax.ScaleByScheduleState)  # noqa: E731
    return jax.tree_util.tree_map(lambda n: optax.ScaleByScheduleState(count=count) if is_schedule(n) else n,
                                  opt_state, is_leaf=is_schedule)


def _flatten_adam(names: list[str], adam: optax.ScaleByAdamState) -> dict[str, np.ndarray]:
    """torch's layout: one ``step`` (float32 scalar) and two moments per parameter."""
    flat = {}
    for i, name in enumerate(names):
        flat[f"{i}.step"] = np.asarray(adam.count, dtype=np.float32)
        flat[f"{i}.exp_avg"] = np.array(adam.mu[name])
        flat[f"{i}.exp_avg_sq"] = np.array(adam.nu[name])
    return flat


def _unflatten_adam(names: list[str], flat: dict[str, np.ndarray]) -> optax.ScaleByAdamState:
    # The checkpoint stores scalars with shape (1,).
    count = jnp.asarray(int(np.reshape(flat["0.step"], -1)[0]), dtype=jnp.int32)
    mu = {name: jnp.asarray(flat[f"{i}.exp_avg"]) for i, name in enumerate(names)}
    nu = {name: jnp.asarray(flat[f"{i}.exp_avg_sq"]) for i, name in enumerate(names)}
    return optax.ScaleByAdamState(count=count, mu=mu, nu=nu)
