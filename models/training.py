"""Generic torch training loop for learned priors, with EMA and exact resume.

A *task* (diffusion denoiser, flow, VAE) says how to build the torch module
and compute a minibatch loss; this module owns everything else: Adam,
gradient clipping, the EMA of the weights, the progress bar, periodic atomic
checkpoints and resumption.

Determinism: all randomness (batch indices and whatever the task draws) comes
from one ``torch.Generator`` seeded by ``TrainConfig.seed``; its state is saved
in every checkpoint together with the weights, their EMA and the Adam state,
so an interrupted run resumed from its last checkpoint ends with exactly the
weights of an uninterrupted run.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any, Protocol, Sequence

import numpy as np

from ppl.errors import CheckpointError
from models.train_state import TrainState, load_latest_train_state, save_train_state


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings.

    Attributes:
        steps: total optimisation steps (a resumed run may extend this).
        batch_size: samples per step (drawn with replacement).
        lr: Adam learning rate.
        ema_decay: decay of the exponential moving average of the weights.
        seed: seeds the network initialisation and all training randomness.
        grad_clip: max global gradient norm (None: no clipping).
        checkpoint_every: steps between checkpoints when a directory is given.
    """

    steps: int = 2000
    batch_size: int = 256
    lr: float = 1e-3
    ema_decay: float = 0.999
    seed: int = 0
    grad_clip: float | None = 1.0
    checkpoint_every: int = 500

    def resume_key(self) -> dict[str, Any]:
        """Settings a resumed run must share (steps / checkpoint_every may change)."""
        key = asdict(self)
        key.pop("steps")
        key.pop("checkpoint_every")
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

    def loss(self, module: Any, batch: list[Any], generator: Any) -> Any:
        """Scalar loss on a minibatch (one tensor per training array)."""

    def meta(self) -> dict[str, Any]:
        """JSON description of the model; a resumed run must match it."""


@dataclass(frozen=True)
class TrainResult:
    """Weights (name -> float32 array) and the per-step loss history (steps,)."""

    weights: dict[str, np.ndarray]
    ema: dict[str, np.ndarray]
    losses: np.ndarray


class _Run:
    """Mutable state of one training run (network, EMA, optimiser, RNG)."""

    def __init__(self, task: Task, train: TrainConfig):
        import torch

        self.net = task.build(train.seed)
        self.ema = {k: v.detach().clone() for k, v in self.net.state_dict().items()}
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=train.lr)
        self.generator = torch.Generator().manual_seed(train.seed)
        self.losses: list[float] = []

    def restore(self, state: TrainState) -> None:
        import torch

        from models.nets.convert import numpy_to_torch

        self.net.load_state_dict(numpy_to_torch(state.weights), strict=True)
        self.ema = numpy_to_torch(state.ema)
        self.optimizer.load_state_dict(_unflatten_optimizer(self.optimizer, state.optimizer))
        self.generator.set_state(torch.from_numpy(state.rng_state.copy()))
        self.losses = [float(v) for v in state.losses]

    def snapshot(self, meta: dict[str, Any]) -> TrainState:
        from models.nets.convert import torch_to_numpy

        return TrainState(
            step=len(self.losses),
            weights=torch_to_numpy(self.net),
            ema=torch_to_numpy(self.ema),
            optimizer=_flatten_optimizer(self.optimizer),
            rng_state=self.generator.get_state().numpy().copy(),
            losses=np.asarray(self.losses, dtype=np.float64),
            meta=meta,
        )


def _flatten_optimizer(optimizer) -> dict[str, np.ndarray]:
    state = optimizer.state_dict()["state"]
    return {f"{i}.{k}": v.detach().cpu().numpy().copy() for i, entry in state.items() for k, v in entry.items()}


def _unflatten_optimizer(optimizer, flat: dict[str, np.ndarray]) -> dict[str, Any]:
    import torch

    state: dict[int, dict[str, Any]] = {}
    for key, value in flat.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = torch.from_numpy(value.copy())
    return {"state": state, "param_groups": optimizer.state_dict()["param_groups"]}


def _meta(task: Task, train: TrainConfig, data: Sequence[np.ndarray]) -> dict[str, Any]:
    digest = hashlib.sha256()
    for array in data:
        digest.update(np.ascontiguousarray(array).tobytes())
    return {**task.meta(), "train": train.resume_key(), "data_sha256": digest.hexdigest()}


def _check_resumable(state: TrainState, meta: dict[str, Any], where: Any, train: TrainConfig) -> None:
    for key in meta:
        if state.meta.get(key) != meta[key]:
            raise CheckpointError(
                f"checkpoint in {where} was written by a run with a different '{key}'; "
                "resume with the same data and settings or use another checkpoint_dir"
            )
    if state.step > train.steps:
        raise CheckpointError(f"checkpoint in {where} is at step {state.step}, past steps={train.steps}")


def _step(run: _Run, task: Task, data: list[Any], train: TrainConfig) -> None:
    import torch

    rows = torch.randint(data[0].shape[0], (train.batch_size,), generator=run.generator)
    loss = task.loss(run.net, [array[rows] for array in data], run.generator)
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if train.grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(run.net.parameters(), train.grad_clip)
    run.optimizer.step()
    run.losses.append(float(loss.detach()))
    _update_ema(run, train.ema_decay)


def _update_ema(run: _Run, decay: float) -> None:
    import torch

    step = len(run.losses)
    # Warm-up: early on the EMA would be dominated by the random initialisation.
    rate = min(decay, (1.0 + step) / (10.0 + step))
    with torch.no_grad():
        for name, value in run.net.state_dict().items():
            run.ema[name].mul_(rate).add_(value, alpha=1.0 - rate)


def fit(
    data: Sequence[np.ndarray],
    task: Task,
    train: TrainConfig,
    checkpoint_dir: Any = None,
    progress: bool = True,
) -> TrainResult:
    """Train a task's module on (already normalised) arrays.

    Args:
        data: training arrays sharing the first axis, e.g. ``(x,)`` of shape
            (n, d) or ``(x, context)``; float32.
        task: the model's module builder and loss.
        train: optimisation settings.
        checkpoint_dir: directory for periodic checkpoints; if it holds one
            from a matching run, training resumes from the newest.
        progress: show a tqdm bar with the running loss.

    Returns:
        The final weights, their EMA and the loss history.
    """
    import torch
    from tqdm.auto import tqdm

    meta = _meta(task, train, data)
    run = _Run(task, train)
    state = load_latest_train_state(checkpoint_dir, task.state_kind) if checkpoint_dir is not None else None
    if state is not None:
        _check_resumable(state, meta, checkpoint_dir, train)
        run.restore(state)
    tensors = [torch.as_tensor(array, dtype=torch.float32) for array in data]
    with tqdm(total=train.steps, initial=len(run.losses), disable=not progress, desc=task.name) as bar:
        while len(run.losses) < train.steps:
            _step(run, task, tensors, train)
            bar.update(1)
            step = len(run.losses)
            if step % 10 == 0 or step == train.steps:
                bar.set_postfix(loss=f"{np.mean(run.losses[-10:]):.4f}")
            if checkpoint_dir is not None and (step % train.checkpoint_every == 0 or step == train.steps):
                save_train_state(checkpoint_dir, run.snapshot(meta), task.state_kind)
    final = run.snapshot(meta)
    return TrainResult(weights=final.weights, ema=final.ema, losses=final.losses)
