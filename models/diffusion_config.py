"""Configuration of a diffusion prior and its JSON (checkpoint) form."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from models.formulations import EDMFormulation, VPFormulation, formulation_from_json
from models.nets.registry import NetConfig, net_from_json, net_to_json

Formulation = Union[VPFormulation, EDMFormulation]


@dataclass(frozen=True)
class Normalization:
    """Affine map from data space to the space the diffusion runs in.

    u = (x - shift) / scale, with a per-coordinate shift and one scalar scale
    (a scalar keeps isotropic noise isotropic, e.g. across image pixels).

    Attributes:
        shift: per-coordinate offset, length d (flattened event).
        scale: positive scalar.
    """

    shift: tuple[float, ...]
    scale: float

    @classmethod
    def fit(cls, data: np.ndarray) -> "Normalization":
        """Mean per coordinate, overall standard deviation; data (n, d)."""
        scale = float(np.std(data - data.mean(axis=0)))
        return cls(tuple(float(v) for v in data.mean(axis=0)), scale if scale > 0 else 1.0)

    @classmethod
    def identity(cls, dim: int) -> "Normalization":
        return cls((0.0,) * dim, 1.0)

    def forward(self, x, xp=np):
        """Data (n, d) -> diffusion space (n, d)."""
        return (x - xp.asarray(np.asarray(self.shift), dtype=x.dtype)) / self.scale

    def inverse(self, u, xp=np):
        """Diffusion space (n, d) -> data (n, d)."""
        return u * self.scale + xp.asarray(np.asarray(self.shift), dtype=u.dtype)

    def pullback_linear(self, A: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rewrite y = A x + noise as y' = A' u + noise for u = forward(x).

        Args:
            A: (m, d) operator in data space.
            y: (m,) observation.

        Returns:
            (A * scale, y - A @ shift).
        """
        A = np.asarray(A, dtype=np.float64)
        return A * self.scale, np.asarray(y, dtype=np.float64) - A @ np.asarray(self.shift)


@dataclass(frozen=True)
class DiffusionConfig:
    """Everything needed to rebuild a diffusion prior besides its weights."""

    formulation: Formulation
    net: NetConfig  # a config registered in models.nets.registry.NETS
    normalization: Normalization
    event_shape: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "formulation": self.formulation.to_json(),
            "net": net_to_json(self.net),
            "normalization": {"shift": list(self.normalization.shift), "scale": self.normalization.scale},
            "event_shape": list(self.event_shape),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "DiffusionConfig":
        norm = data["normalization"]
        return cls(
            formulation=formulation_from_json(data["formulation"]),
            net=net_from_json(data["net"]),
            normalization=Normalization(tuple(norm["shift"]), float(norm["scale"])),
            event_shape=tuple(data["event_shape"]),
        )
