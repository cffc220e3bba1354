"""Shared plumbing of priors whose math is written once over a weight dict.

``FlowPrior`` and ``VAEPrior`` keep numpy weights (the checkpoint format),
run on torch or JAX through ``models.backends.make_arrays``, and save / load
the same way; this base class holds that, so each prior only defines its
config type, weight shapes and math.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping

import numpy as np

from ppl.errors import CheckpointError, ObservationError
from models.backends import make_arrays
from models.checkpoint import load_checkpoint, save_checkpoint
from models.nets.convert import check_shapes


class WeightDictPrior:
    """Base class: config + numpy weights + an array backend.

    Subclasses set ``KIND`` and ``CONFIG`` (a class with ``from_json``) and
    implement ``param_shapes(config)`` and ``_build()`` (backend functions).

    Args:
        config: the prior's frozen config (with ``to_json``).
        weights: name -> numpy array.
        backend: ``"torch"`` or ``"jax"``.
        dtype: ``"float32"`` or ``"float64"``.
    """

    KIND: ClassVar[str]
    CONFIG: ClassVar[Any]

    def __init__(self, config: Any, weights: Mapping[str, np.ndarray], backend: str = "torch",
                 dtype: str = "float32"):
        self.config = config
        self.weights = {k: np.asarray(v) for k, v in weights.items()}
        check_shapes(self.weights, self.param_shapes(config), where=type(self).__name__)
        self.backend = make_arrays(backend, dtype)
        self.params = self.backend.to_params(self.weights)
        self.training_losses: np.ndarray | None = None
        self._build()

    @staticmethod
    def param_shapes(config: Any) -> dict[str, tuple[int, ...]]:
        raise NotImplementedError

    def _build(self) -> None:
        """Prepare backend functions (e.g. jit them); called once per instance."""

    def _jit(self, fn: Callable) -> Callable:
        """``fn`` jitted on JAX (it must take arrays / None only); as is on torch."""
        if self.backend.name != "jax":
            return fn
        import jax

        return jax.jit(fn)

    def to(self, backend: str, dtype: str = "float32") -> "WeightDictPrior":
        """The same prior on another backend / dtype."""
        other = type(self)(self.config, self.weights, backend, dtype)
        other.training_losses = self.training_losses
        return other

    def save(self, path) -> Path:
        """Write a portable checkpoint directory (config.json + weights.safetensors)."""
        return save_checkpoint(path, self.KIND, self.config.to_json(), self.weights)

    @classmethod
    def load(cls, path, backend: str = "torch", dtype: str = "float32") -> "WeightDictPrior":
        """Read a checkpoint written by ``save``; raises ``CheckpointError`` if invalid."""
        path = Path(path)
        ckpt = load_checkpoint(path, kind=cls.KIND)
        try:
            config = cls.CONFIG.from_json(ckpt.config)
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"checkpoint {path}: invalid {cls.KIND} config ({exc})") from exc
        check_shapes(ckpt.tensors, cls.param_shapes(config), where=f"checkpoint {path}")
        return cls(config, ckpt.tensors, backend, dtype)


def check_training_array(data: Any, name: str = "training data") -> np.ndarray:
    """float64 copy of (n >= 2, ...) finite data, else ``ObservationError``."""
    data = np.asarray(data, dtype=np.float64)
    if data.ndim < 2 or data.shape[0] < 2:
        raise ObservationError(f"{name} must have shape (n >= 2, ...), got {data.shape}")
    if not np.all(np.isfinite(data)):
        raise ObservationError(f"{name} contains NaN or inf")
    return data
