"""Flat layouts of parameters and observations, and their z-scoring.

A ``ThetaLayout`` turns a dict of latent draws (n, *site_shape) into one
unconstrained matrix (n, d) and back (``support.Bijection`` per site); an
``XLayout`` does the same for the observed sites, keeping the shape of a
single site for set embeddings. ``Standardizer`` is the per-dimension z-score
(fitted on the training simulations, as sbi does).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ppl.errors import ObservationError, ShapeError

from .support import IDENTITY, Bijection


def _size(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape, dtype=np.int64))


@dataclass(frozen=True)
class ThetaLayout:
    """Latent sites in a fixed order, with their shapes and bijections.

    Attributes:
        names: latent site names.
        shapes: site shapes (without the draw axis).
        bijections: R -> support per site.
        support: ``"transform"``: the estimator's space is the image of the
            bijections (R^d); ``"reject"``: it is the raw parameter space (the
            maps below are the identity) and ``inside`` tells which draws to keep.
    """

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    bijections: tuple[Bijection, ...]
    support: str = "transform"

    def _maps(self) -> tuple[Bijection, ...]:
        return self.bijections if self.support == "transform" else (IDENTITY,) * len(self.bijections)

    @property
    def dim(self) -> int:
        return sum(_size(s) for s in self.shapes)

    def to_unconstrained(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """Site draws (n, *shape) -> (n, dim) float64."""
        cols = [b.inverse(np.asarray(values[k], dtype=np.float64)).reshape(len(values[k]), -1)
                for k, b in zip(self.names, self._maps())]
        return np.concatenate(cols, axis=1)

    def _split(self, flat: np.ndarray) -> list[np.ndarray]:
        ends = np.cumsum([_size(s) for s in self.shapes])[:-1]
        return [p.reshape((len(flat),) + s) for p, s in zip(np.split(flat, ends, axis=1), self.shapes)]

    def to_constrained(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """(n, dim) unconstrained -> site name -> (n, *shape) in the support."""
        return {k: b.forward(p) for k, b, p in zip(self.names, self._maps(), self._split(flat))}

    def log_det(self, flat: np.ndarray) -> np.ndarray:
        """log|det d constrained / d unconstrained| per row, shape (n,)."""
        parts = [b.log_det(p).reshape(len(flat), -1).sum(axis=1)
                 for b, p in zip(self._maps(), self._split(flat))]
        return np.sum(parts, axis=0)

    def inside(self, flat: np.ndarray) -> np.ndarray:
        """Rows (n, dim) of the estimator's space whose parameters lie in their supports, (n,) bool.

        Always true with ``support="transform"`` (the bijections land in the support).
        """
        if self.support == "transform":
            return np.ones(len(flat), dtype=bool)
        parts = [b.contains(p).reshape(len(flat), -1).all(axis=1)
                 for b, p in zip(self.bijections, self._split(flat))]
        return np.all(parts, axis=0)

    @property
    def unchecked(self) -> list[str]:
        """Sites whose support depends on other latents: draws are not confined to it."""
        return [k for k, b in zip(self.names, self.bijections) if b.kind == "unchecked"]

    def to_json(self) -> dict[str, Any]:
        return {"names": list(self.names), "shapes": [list(s) for s in self.shapes],
                "bijections": [b.to_json() for b in self.bijections], "support": self.support}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ThetaLayout":
        # Checkpoints from before the support option were trained in the transformed space.
        return cls(tuple(data["names"]), tuple(tuple(s) for s in data["shapes"]),
                   tuple(Bijection.from_json(b) for b in data["bijections"]), data.get("support", "transform"))


@dataclass(frozen=True)
class XLayout:
    """Observed sites in a fixed order and their shapes."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]

    @property
    def dim(self) -> int:
        return sum(_size(s) for s in self.shapes)

    def flatten(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """Site values (n, *shape) -> (n, dim) float64."""
        return np.concatenate([np.asarray(values[k], dtype=np.float64).reshape(len(values[k]), -1)
                               for k in self.names], axis=1)

    def observation(self, x: Any) -> np.ndarray:
        """One observation (an array for a single site, or a dict) -> (1, dim), checked.

        Raises:
            ObservationError: unknown or missing site, NaN / inf.
            ShapeError: a value whose shape differs from the simulated one.
        """
        values = x if isinstance(x, Mapping) else {self.names[0]: x} if len(self.names) == 1 else None
        if values is None:
            raise ObservationError(f"pass x as a dict: this posterior conditions on sites {list(self.names)}")
        unknown = sorted(set(values) - set(self.names))
        missing = [k for k in self.names if k not in values]
        if unknown or missing:
            raise ObservationError(f"x must give exactly the observed sites {list(self.names)}; "
                                   f"unknown {unknown}, missing {missing}")
        for name, shape in zip(self.names, self.shapes):
            value = np.asarray(values[name], dtype=np.float64)
            if value.shape != shape:
                raise ShapeError(f"x has shape {value.shape}, but the simulations have shape {shape}", site=name)
            if not np.all(np.isfinite(value)):
                raise ObservationError("x contains NaN or inf", site=name)
        return self.flatten({k: np.asarray(values[k])[None] for k in self.names})

    def to_json(self) -> dict[str, Any]:
        return {"names": list(self.names), "shapes": [list(s) for s in self.shapes]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "XLayout":
        return cls(tuple(data["names"]), tuple(tuple(s) for s in data["shapes"]))


@dataclass(frozen=True)
class Standardizer:
    """z = (v - mean) / std per feature (the last axis), fitted on training data."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def fit(cls, data: np.ndarray) -> "Standardizer":
        """Statistics over every axis but the last; constant features get std 1."""
        flat = np.asarray(data, dtype=np.float64).reshape(-1, data.shape[-1])
        std = flat.std(axis=0)
        return cls(tuple(flat.mean(axis=0).tolist()), tuple(np.where(std > 1e-12, std, 1.0).tolist()))

    def forward(self, v: np.ndarray) -> np.ndarray:
        return (v - np.asarray(self.mean)) / np.asarray(self.std)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        return z * np.asarray(self.std) + np.asarray(self.mean)

    def log_scale(self) -> float:
        """sum log std: the log-Jacobian of ``inverse``."""
        return float(np.sum(np.log(self.std)))

    def to_json(self) -> dict[str, Any]:
        return {"mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Standardizer":
        return cls(tuple(data["mean"]), tuple(data["std"]))
