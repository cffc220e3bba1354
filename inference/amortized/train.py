"""Training with validation-based early stopping, on top of ``models.training``'s trainers.

The simulations are split once into training and validation rows; each epoch
takes ceil(n_train / batch_size) steps of the backend's registered trainer
(``models.training.TRAINERS``: Adam, clipping, one seeded RNG), then scores the
current weights on the validation rows with fixed noise, so the validation
loss of one set of weights is the same in every epoch. Training stops after
``patience`` epochs without improvement and returns the best weights seen
(sbi's rule). With a checkpoint directory the trainer state and the
early-stopping bookkeeping are saved every ``checkpoint_every`` epochs and a
rerun with the same arguments resumes from them.
"""
from __future__ import annotations

import hashlib
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from models.checkpoint import load_checkpoint, save_checkpoint
from models.train_state import load_latest_train_state, save_train_state
from models.training import TrainConfig, trainer_class
from ppl.errors import CheckpointError

from .config import TrainingSettings


@dataclass(frozen=True)
class FitResult:
    """Outcome of one early-stopped training run.

    Attributes:
        weights: the weights with the best validation loss (name -> float32 array).
        train_losses, val_losses: mean training loss and validation loss per epoch, (epochs,).
        best_epoch: index of the epoch whose weights were kept.
        seconds: wall time of the training loop (compilation included).
    """

    weights: dict[str, np.ndarray]
    train_losses: np.ndarray
    val_losses: np.ndarray
    best_epoch: int
    seconds: float


def split(arrays: Sequence[np.ndarray], fraction: float, seed: int) -> tuple[list, list]:
    """Random (train, validation) split of arrays sharing the first axis."""
    n = len(arrays[0])
    n_val = min(max(1, int(round(fraction * n))), n - 1)
    order = np.random.default_rng([seed, 2]).permutation(n)
    return [a[order[n_val:]] for a in arrays], [a[order[:n_val]] for a in arrays]


def _jax_validator(task: Any, data: list[np.ndarray], noise: list[np.ndarray]) -> Callable:
    import jax
    import jax.numpy as jnp

    fn = jax.jit(lambda p, d, e: task.objective(p, d, e, jnp))
    arrays = [jnp.asarray(a, dtype=jnp.float32) for a in data]
    eps = [jnp.asarray(a, dtype=jnp.float32) for a in noise]
    return lambda weights: float(fn({k: jnp.asarray(v) for k, v in weights.items()}, arrays, eps))


def _torch_validator(task: Any, data: list[np.ndarray], noise: list[np.ndarray]) -> Callable:
    import torch
    from array_api_compat import torch as xp

    arrays = [torch.as_tensor(a, dtype=torch.float32) for a in data]
    eps = [torch.as_tensor(a, dtype=torch.float32) for a in noise]

    def validate(weights):
        with torch.no_grad():
            params = {k: torch.as_tensor(v, dtype=torch.float32) for k, v in weights.items()}
            return float(task.objective(params, arrays, eps, xp))

    return validate


VALIDATORS: dict[str, Callable] = {"jax": _jax_validator, "torch": _torch_validator}


def _run_meta(task: Any, settings: TrainingSettings, seed: int, data: Sequence[np.ndarray], backend: str) -> dict:
    digest = hashlib.sha256()
    for array in data:
        digest.update(np.ascontiguousarray(array).tobytes())
    # A resumed run may raise max_epochs or checkpoint more often; everything else must match.
    fixed = {k: v for k, v in asdict(settings).items() if k not in ("max_epochs", "checkpoint_every")}
    return {**task.meta(), "settings": fixed, "seed": seed, "backend": backend,
            "data_sha256": digest.hexdigest()}


class _Bookkeeping:
    """Epoch losses, the best weights and the early-stopping counter."""

    def __init__(self):
        self.train_losses: list[float] = []
        self.val_losses: list[float] = []
        self.best_weights: dict[str, np.ndarray] | None = None
        self.best_epoch = -1

    def record(self, train_loss: float, val_loss: float, weights: Callable[[], dict]) -> None:
        self.train_losses.append(train_loss)
        self.val_losses.append(val_loss)
        if self.best_epoch < 0 or val_loss < self.val_losses[self.best_epoch]:
            self.best_epoch, self.best_weights = len(self.val_losses) - 1, weights()

    def patience_left(self, patience: int) -> bool:
        return len(self.val_losses) - 1 - self.best_epoch < patience

    def to_json(self) -> dict[str, Any]:
        return {"train_losses": self.train_losses, "val_losses": self.val_losses, "best_epoch": self.best_epoch}


def _save(directory: Path, run: Any, meta: dict, book: _Bookkeeping, kind: str) -> None:
    # The best weights go first: a crash in between leaves an older state that still resumes correctly.
    save_checkpoint(directory / "best", f"{kind}_best", book.to_json(), book.best_weights)
    save_train_state(directory, run.snapshot({**meta, "progress": book.to_json()}), kind)


def _resume(directory: Path, run: Any, meta: dict, book: _Bookkeeping, kind: str) -> None:
    state = load_latest_train_state(directory, kind)
    if state is None:
        return
    progress = state.meta.pop("progress", None)
    if state.meta != meta or progress is None:
        raise CheckpointError(f"checkpoint in {directory} was written by a different amortize run; "
                              "use the same model, simulations and settings or another checkpoint_dir")
    best = load_checkpoint(directory / "best", kind=f"{kind}_best")
    run.restore(state)
    book.train_losses, book.val_losses = list(progress["train_losses"]), list(progress["val_losses"])
    book.best_epoch = int(progress["best_epoch"])
    # The best file may be one save newer than the state; only trust it if it agrees.
    if int(best.config["best_epoch"]) != book.best_epoch:
        raise CheckpointError(f"checkpoint in {directory}: best weights do not match the training state")
    book.best_weights = best.tensors


def _epoch(run: Any, steps: int) -> None:
    """``steps`` optimisation steps; in one compiled loop where the trainer has one (JAX)."""
    if hasattr(run, "steps"):
        run.steps(steps)
        return
    for _ in range(steps):
        run.step()


def fit_early_stopping(task: Any, data: Sequence[np.ndarray], settings: TrainingSettings, seed: int = 0,
                       backend: str = "jax", progress: bool = False, checkpoint_dir: Any = None) -> FitResult:
    """Train ``task`` on float32 arrays ``data`` until the validation loss stops improving.

    Args:
        task: a ``models.training.Task`` that also has ``objective(params, batch, noise, xp)``
            and ``validation_noise(n, seed)``.
        data: arrays sharing the first axis (simulations).
        settings: batch size, learning rate, validation fraction, patience, caps.
        seed: seeds the split, the initial weights and all training randomness.
        backend: ``"torch"`` or ``"jax"``.
        progress: show a tqdm bar over epochs.
        checkpoint_dir: save / resume here (None: no checkpoints).
    """
    from tqdm.auto import tqdm

    start = time.perf_counter()
    train_data, val_data = split(data, settings.validation_fraction, seed)
    validate = VALIDATORS[backend](task, val_data, task.validation_noise(len(val_data[0]), seed))
    config = TrainConfig(steps=0, batch_size=settings.batch_size, lr=settings.lr, ema_decay=0.0, seed=seed,
                         grad_clip=settings.grad_clip)
    run = trainer_class(backend)(task, config, train_data)
    meta = _run_meta(task, settings, seed, data, backend)
    book, directory = _Bookkeeping(), None if checkpoint_dir is None else Path(checkpoint_dir)
    if directory is not None:
        _resume(directory, run, meta, book, task.state_kind)
    steps = max(1, math.ceil(len(train_data[0]) / settings.batch_size))
    with tqdm(total=settings.max_epochs, initial=len(book.val_losses), disable=not progress, desc=task.name) as bar:
        while len(book.val_losses) < settings.max_epochs and book.patience_left(settings.patience):
            _epoch(run, steps)
            current = run.snapshot({}).weights
            book.record(float(np.mean(run.losses[-steps:])), validate(current), lambda: current)
            bar.update(1)
            bar.set_postfix(train=f"{book.train_losses[-1]:.3f}", val=f"{book.val_losses[-1]:.3f}")
            if directory is not None and len(book.val_losses) % settings.checkpoint_every == 0:
                _save(directory, run, meta, book, task.state_kind)
    if directory is not None:
        _save(directory, run, meta, book, task.state_kind)
    return FitResult(book.best_weights, np.asarray(book.train_losses), np.asarray(book.val_losses),
                     book.best_epoch, time.perf_counter() - start)
