"""Generic training loop for learned priors, with EMA and exact resume.

A *task* (diffusion denoiser, flow, VAE) says how to initialise the weights
and compute a minibatch loss; a *trainer* (one per backend, registered in
``TRAINERS``) owns Adam, gradient clipping, the EMA of the weights and the
RNG; this module owns the rest: the progress bar, periodic atomic checkpoints
and resumption, identical for every backend.

Determinism: all randomness (batch indices and whatever the task draws) comes
from one backend RNG seeded by ``TrainConfig.seed`` (a ``torch.Generator``, a
JAX key); its state is saved in every checkpoint together with the weights,
their EMA and the Adam state, so an interrupted run resumed from its last
checkpoint ends with exactly the weights of an uninterrupted run. Training
states record their backend; a run resumes only on the backend that wrote it.
"""
from __future__ import annotations

import hashlib
import importlib
import math
from dataclasses import asdict, dataclass
from typing import Any, Protocol, Sequence

import numpy as np

from ppl.errors import CheckpointError
from models.train_state import TrainState, load_latest_train_state, save_train_state


# Decay shapes of ``LRSchedule``: progress p in [0, 1] -> multiplier from 1 down to 0.
LR_DECAYS = {"cosine": lambda p, xp: 0.5 * (1.0 + xp.cos(math.pi * p)),
             "linear": lambda p, xp: 1.0 - p,
             "constant": lambda p, xp: 1.0 + 0.0 * p}


@dataclass(frozen=True)
class LRSchedule:
    """Learning-rate multiplier by step: linear warm-up, then a decay to ``final_fraction``.

    The update that makes step k + 1 (k = 0, 1, ...) uses ``lr * factor(k)``;
    the multiplier depends on k alone, so a resumed run follows it exactly.
    Its horizon is ``decay_steps``, not ``TrainConfig.steps``, so extending a
    run does not rewrite the past schedule (the multiplier stays at
    ``final_fraction`` after ``decay_steps``).

    Attributes:
        decay_steps: step at which the decay ends (> warmup_steps).
        warmup_steps: steps of the linear warm-up from lr / warmup_steps to lr.
        shape: key of ``LR_DECAYS`` (``"cosine"``, ``"linear"``, ``"constant"``).
        final_fraction: multiplier at and after ``decay_steps``.
    """

    decay_steps: int
    warmup_steps: int = 0
    shape: str = "cosine"
    final_fraction: float = 0.0

    def __post_init__(self):
        if self.shape not in LR_DECAYS:
            raise ValueError(f"unknown lr schedule shape {self.shape!r}; choose from {sorted(LR_DECAYS)}")
        if not 0 <= self.warmup_steps < self.decay_steps or not 0.0 <= self.final_fraction <= 1.0:
            raise ValueError(f"invalid LRSchedule: need 0 <= warmup_steps < decay_steps and final_fraction in "
                             f"[0, 1], got {self.warmup_steps}, {self.decay_steps}, {self.final_fraction}")

    def factor(self, step, xp=np):
        """Multiplier of the base lr for the update after ``step`` steps (numpy or JAX scalar)."""
        step = xp.asarray(step) * 1.0  # an integer count (optax's) becomes float
        warm = xp.minimum((step + 1.0) / self.warmup_steps, 1.0) if self.warmup_steps else 1.0
        progress = xp.clip((step - self.warmup_steps) / (self.decay_steps - self.warmup_steps), 0.0, 1.0)
        return warm * (self.final_fraction + (1.0 - self.final_fraction) * LR_DECAYS[self.shape](progress, xp))


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (shared by every backend).

    Attributes:
        steps: total optimisation steps (a resumed run may extend this).
        batch_size: samples per step (drawn with replacement).
        lr: Adam learning rate (betas 0.9, 0.999; eps 1e-8).
        ema_decay: decay of the exponential moving average of the weights.
        seed: seeds the network initialisation and all training randomness.
        grad_clip: max global gradient norm (None: no clipping).
        checkpoint_every: steps between checkpoints when a directory is given.
        lr_schedule: multiplier of ``lr`` by step (None: constant ``lr``).
    """

    steps: int = 2000
    batch_size: int = 256
    lr: float = 1e-3
    ema_decay: float = 0.999
    seed: int = 0
    grad_clip: float | None = 1.0
    checkpoint_every: int = 500
    lr_schedule: LRSchedule | None = None

    def resume_key(self) -> dict[str, Any]:
        """Settings a resumed run must share (steps / checkpoint_every may change)."""
        key = asdict(self)
        key.pop("steps")
        key.pop("checkpoint_every")
        if key["lr_schedule"] is None:  # runs without a schedule keep resuming from older checkpoints
            key.pop("lr_schedule")
        return key


class Task(Protocol):
    """What a model contributes to training.

    Attributes:
        name: label of the progress bar.
        state_kind: checkpoint kind of the training states it writes.
    """

    name: str
    state_kind: str

    def build(self, seed: int) -> Any:
        """A freshly initialised ``torch.nn.Module`` (weights fixed by ``seed``)."""

    def init_weights(self, seed: int) -> dict[str, np.ndarray]:
        """The weights of ``build(seed)`` as float32 numpy arrays (name -> array)."""

    def loss(self, module: Any, batch: list[Any], generator: Any) -> Any:
        """torch: scalar loss on a minibatch (one tensor per training array)."""

    def jax_loss(self, params: dict[str, Any], batch: list[Any], key: Any) -> Any:
        """JAX: the same loss, pure in (params, batch, key) so it can be jitted."""

    def meta(self) -> dict[str, Any]:
        """JSON description of the model; a resumed run must match it."""


class Trainer(Protocol):
    """One backend's mutable training state; built as ``cls(task, train, data)``.

    Attributes:
        losses: per-step losses so far; its length is the step count.
    """

    losses: list[float]

    def step(self) -> None:
        """One optimisation step plus EMA update; appends the loss."""

    def restore(self, state: TrainState) -> None:
        """Continue from a training state this backend wrote."""

    def snapshot(self, meta: dict[str, Any]) -> TrainState:
        """Everything needed to continue exactly (numpy arrays)."""


# Backend name -> "module:class", imported on first use so torch users never import JAX.
TRAINERS: dict[str, str] = {"torch": "models.training_torch:TorchTrainer",
                            "jax": "models.training_jax:JaxTrainer"}
# Meta values of checkpoints written before the key existed.
_LEGACY_META = {"backend": "torch"}


def trainer_class(backend: str) -> type:
    """The registered trainer of ``backend``; ``ValueError`` for unknown names."""
    if backend not in TRAINERS:
        raise ValueError(f"unknown training backend {backend!r}; choose from {sorted(TRAINERS)}")
    module, name = TRAINERS[backend].split(":")
    return getattr(importlib.import_module(module), name)


def ema_rate(decay: float, step: int) -> float:
    """EMA weight of the old average after ``step`` steps.

    Warm-up: early on the EMA would be dominated by the random initialisation.
    """
    return min(decay, (1.0 + step) / (10.0 + step))


@dataclass(frozen=True)
class TrainResult:
    """Weights (name -> float32 array) and the per-step loss history (steps,)."""

    weights: dict[str, np.ndarray]
    ema: dict[str, np.ndarray]
    losses: np.ndarray


def _meta(task: Task, train: TrainConfig, data: Sequence[np.ndarray], backend: str) -> dict[str, Any]:
    digest = hashlib.sha256()
    for array in data:
        digest.update(np.ascontiguousarray(array).tobytes())
    return {**task.meta(), "train": train.resume_key(), "data_sha256": digest.hexdigest(), "backend": backend}


def _check_resumable(state: TrainState, meta: dict[str, Any], where: Any, train: TrainConfig) -> None:
    for key in meta:
        found = state.meta.get(key, _LEGACY_META.get(key))
        if found != meta[key]:
            detail = f" ({found!r}, not {meta[key]!r})" if key == "backend" else ""
            raise CheckpointError(
                f"checkpoint in {where} was written by a run with a different '{key}'{detail}; "
                "resume with the same data and settings or use another checkpoint_dir"
            )
    if state.step > train.steps:
        raise CheckpointError(f"checkpoint in {where} is at step {state.step}, past steps={train.steps}")


def _step(run: Trainer) -> None:
    """One training step (a seam: tests interrupt training here)."""
    run.step()


def fit(
    data: Sequence[np.ndarray],
    task: Task,
    train: TrainConfig,
    checkpoint_dir: Any = None,
    progress: bool = True,
    backend: str = "torch",
) -> TrainResult:
    """Train a task's network on (already normalised) arrays.

    Args:
        data: training arrays sharing the first axis, e.g. ``(x,)`` of shape
            (n, d) or ``(x, context)``; float32.
        task: the model's weight initialisation and loss.
        train: optimisation settings.
        checkpoint_dir: directory for periodic checkpoints; if it holds one
            from a matching run, training resumes from the newest.
        progress: show a tqdm bar with the running loss.
        backend: a key of ``TRAINERS`` (``"torch"`` or ``"jax"``).

    Returns:
        The final weights, their EMA and the loss history.

    Raises:
        ValueError: unknown backend.
        CheckpointError: the checkpoint in ``checkpoint_dir`` is from another run.
    """
    from tqdm.auto import tqdm

    trainer = trainer_class(backend)
    meta = _meta(task, train, data, backend)
    state = load_latest_train_state(checkpoint_dir, task.state_kind) if checkpoint_dir is not None else None
    if state is not None:
        _check_resumable(state, meta, checkpoint_dir, train)
    run = trainer(task, train, data)
    if state is not None:
        run.restore(state)
    with tqdm(total=train.steps, initial=len(run.losses), disable=not progress, desc=task.name) as bar:
        while len(run.losses) < train.steps:
            _step(run)
            bar.update(1)
            step = len(run.losses)
            if step % 10 == 0 or step == train.steps:
                bar.set_postfix(loss=f"{np.mean(run.losses[-10:]):.4f}")
            if checkpoint_dir is not None and (step % train.checkpoint_every == 0 or step == train.steps):
                save_train_state(checkpoint_dir, run.snapshot(meta), task.state_kind)
    final = run.snapshot(meta)
    return TrainResult(weights=final.weights, ema=final.ema, losses=final.losses)
