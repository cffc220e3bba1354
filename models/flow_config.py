"""Configuration of a normalizing-flow prior and its JSON (checkpoint) form."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from models.diffusion_config import Normalization


@dataclass(frozen=True)
class FlowConfig:
    """Architecture of a coupling flow.

    Attributes:
        dim: size of the (flattened) event.
        coupling: ``"spline"`` or ``"affine"`` (see ``models.couplings.COUPLINGS``).
        num_layers: coupling layers; masks alternate between even and odd dims.
        hidden_dim: width of each conditioner MLP.
        num_hidden: hidden layers per conditioner MLP.
        num_bins: spline bins (spline only).
        tail_bound: the spline acts on [-tail_bound, tail_bound], identity outside.
        affine_clamp: bound on the affine log-scale (affine only).
        context_dim: size of the conditioning vector (0: unconditional).
    """

    dim: int
    coupling: str = "spline"
    num_layers: int = 4
    hidden_dim: int = 64
    num_hidden: int = 2
    num_bins: int = 8
    tail_bound: float = 4.0
    affine_clamp: float = 3.0
    context_dim: int = 0

    def __post_init__(self):
        from models.couplings import COUPLINGS

        if self.coupling not in COUPLINGS:
            raise ValueError(f"unknown coupling {self.coupling!r}; choose from {sorted(COUPLINGS)}")
        if self.dim < 2:
            raise ValueError("a coupling flow needs dim >= 2 (one half conditions the other)")
        if min(self.num_layers, self.hidden_dim, self.num_bins) < 1 or min(self.num_hidden, self.context_dim) < 0:
            raise ValueError(f"invalid FlowConfig {self}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FlowPriorConfig:
    """Everything needed to rebuild a flow prior besides its weights.

    Attributes:
        flow: the architecture.
        normalization: data -> flow space (u = (x - shift) / scale).
        context_normalization: raw context -> network input (None: unconditional).
        event_shape: shape of one data draw, e.g. (2,) or (1, 8, 8).
    """

    flow: FlowConfig
    normalization: Normalization
    context_normalization: Normalization | None
    event_shape: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        ctx = self.context_normalization
        return {"flow": self.flow.to_json(), "normalization": _norm_json(self.normalization),
                "context_normalization": None if ctx is None else _norm_json(ctx),
                "event_shape": list(self.event_shape)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "FlowPriorConfig":
        ctx = data["context_normalization"]
        return cls(FlowConfig(**data["flow"]), _norm_from_json(data["normalization"]),
                   None if ctx is None else _norm_from_json(ctx), tuple(data["event_shape"]))


def _norm_json(norm: Normalization) -> dict[str, Any]:
    return {"shift": list(norm.shift), "scale": norm.scale}


def _norm_from_json(data: dict[str, Any]) -> Normalization:
    return Normalization(tuple(float(v) for v in data["shift"]), float(data["scale"]))
