"""Configuration of a VAE prior and its JSON (checkpoint) form."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from models.flow_config import _norm_from_json, _norm_json
from models.diffusion_config import Normalization


@dataclass(frozen=True)
class VAEConfig:
    """Architecture of an MLP VAE.

    Attributes:
        dim: size of the (flattened) event.
        latent_dim: size of the latent code z ~ N(0, I).
        hidden_dim: width of the encoder and decoder MLPs.
        num_hidden: hidden layers in each of them.
        likelihood: ``"gaussian"`` (learned per-dim scale) or ``"bernoulli"``
            (data in {0, 1}); see ``models.vae_net.LIKELIHOODS``.
    """

    dim: int
    latent_dim: int = 8
    hidden_dim: int = 128
    num_hidden: int = 2
    likelihood: str = "gaussian"

    def __post_init__(self):
        from models.vae_net import LIKELIHOODS

        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"unknown likelihood {self.likelihood!r}; choose from {sorted(LIKELIHOODS)}")
        if min(self.dim, self.latent_dim, self.hidden_dim) < 1 or self.num_hidden < 0:
            raise ValueError(f"invalid VAEConfig {self}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class VAEPriorConfig:
    """Everything needed to rebuild a VAE prior besides its weights.

    Attributes:
        vae: the architecture.
        normalization: data -> model space (identity for Bernoulli data).
        event_shape: shape of one data draw, e.g. (64,) or (1, 8, 8).
    """

    vae: VAEConfig
    normalization: Normalization
    event_shape: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {"vae": self.vae.to_json(), "normalization": _norm_json(self.normalization),
                "event_shape": list(self.event_shape)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "VAEPriorConfig":
        return cls(VAEConfig(**data["vae"]), _norm_from_json(data["normalization"]), tuple(data["event_shape"]))
