"""Checkpoints of an in-progress training run, for exact resumption.

Each checkpoint is a portable checkpoint directory ``step_XXXXXXXX`` (kind
``"<model>_training_state"``, e.g. ``"diffusion_training_state"``) under the run's checkpoint directory, holding
the network weights, their EMA, the Adam state, the backend's RNG state and
the loss history, so a resumed run continues bit-for-bit. Both training
backends (torch, JAX) write this one format; the run's ``meta`` names the
backend, and a run resumes only on the backend that wrote it. Directories are renamed
into place atomically; only the newest ``KEEP`` are kept.
"""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ppl.errors import CheckpointError
from models.checkpoint import load_checkpoint, save_checkpoint

KIND = "diffusion_training_state"
KEEP = 2
_STEP_DIR = re.compile(r"^step_(\d{8})$")


@dataclass(frozen=True)
class TrainState:
    """Everything a training loop needs to continue.

    Attributes:
        step: number of optimisation steps already taken.
        weights, ema: name -> array, the shared MLP naming scheme.
        optimizer: flattened Adam state, ``"<param index>.<key>"`` -> array.
        rng_state: the backend RNG's state: torch generator state (uint8)
            or JAX key data (uint32).
        losses: per-step training losses, shape (step,).
        meta: JSON description the resuming run must match.
    """

    step: int
    weights: dict[str, np.ndarray]
    ema: dict[str, np.ndarray]
    optimizer: dict[str, np.ndarray]
    rng_state: np.ndarray
    losses: np.ndarray
    meta: dict[str, Any]


def _prefixed(prefix: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {f"{prefix}.{k}": v for k, v in arrays.items()}


def _strip(prefix: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    head = prefix + "."
    return {k[len(head):]: v for k, v in arrays.items() if k.startswith(head)}


def save_train_state(run_dir: str | Path, state: TrainState, kind: str = KIND) -> Path:
    """Write ``run_dir/step_XXXXXXXX`` atomically and prune older ones."""
    run_dir = Path(run_dir)
    tensors = {
        **_prefixed("model", state.weights),
        **_prefixed("ema", state.ema),
        **_prefixed("optim", state.optimizer),
        "rng_state": state.rng_state,
        "losses": state.losses,
    }
    path = save_checkpoint(run_dir / f"step_{state.step:08d}", kind, {"step": state.step, **state.meta}, tensors)
    for old in _step_dirs(run_dir)[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return path


def _step_dirs(run_dir: Path) -> list[Path]:
    if not run_dir.is_dir():
        return []
    return sorted(p for p in run_dir.iterdir() if p.is_dir() and _STEP_DIR.match(p.name))


def load_latest_train_state(run_dir: str | Path, kind: str = KIND) -> TrainState | None:
    """The newest training state under ``run_dir``, or None if there is none.

    Raises:
        CheckpointError: the newest checkpoint exists but is unreadable; we do
            not silently fall back to an older one.
    """
    dirs = _step_dirs(Path(run_dir))
    if not dirs:
        return None
    ckpt = load_checkpoint(dirs[-1], kind=kind)
    meta = dict(ckpt.config)
    step = int(meta.pop("step"))
    losses = ckpt.tensors.get("losses")
    if losses is None or "rng_state" not in ckpt.tensors or losses.shape != (step,):
        raise CheckpointError(f"checkpoint {dirs[-1]}: incomplete training state")
    return TrainState(
        step=step,
        weights=_strip("model", ckpt.tensors),
        ema=_strip("ema", ckpt.tensors),
        optimizer=_strip("optim", ckpt.tensors),
        rng_state=ckpt.tensors["rng_state"],
        losses=losses,
        meta=meta,
    )
