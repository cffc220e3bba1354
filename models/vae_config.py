"""Configuration of a VAE prior and its JSON (checkpoint) form."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from models.flow_config import _norm_from_json, _norm_json
from models.diffusion_config import Normalization


@dataclass(frozen=True)
class VAEConfig:
    """Architecture of a VAE: MLP or convolutional encoder / decoder.

    Attributes:
        dim: size of the (flattened) event.
        latent_dim: size of the latent code z ~ N(0, I).
        hidden_dim: width of the encoder and decoder MLPs (``"mlp"``).
        num_hidden: hidden layers in each of them (``"mlp"``).
        likelihood: ``"gaussian"`` (learned per-dim scale) or ``"bernoulli"``
            (data in {0, 1}); see ``models.vae_net.LIKELIHOODS``.
        architecture: ``"mlp"`` or ``"conv"``; see ``models.vae_net.ARCHITECTURES``.
        image_shape: (C, H, W) with C*H*W == dim (``"conv"`` only); H and W
            must be divisible by 2 ** len(channels).
        channels: conv channels per level; each level halves H and W (``"conv"``).
        num_groups: GroupNorm groups in the conv blocks (0: none) (``"conv"``).
    """

    dim: int
    latent_dim: int = 8
    hidden_dim: int = 128
    num_hidden: int = 2
    likelihood: str = "gaussian"
    architecture: str = "mlp"
    image_shape: tuple[int, ...] = ()
    channels: tuple[int, ...] = (16, 32)
    num_groups: int = 8

    def __post_init__(self):
        from models.vae_net import ARCHITECTURES, LIKELIHOODS

        # JSON gives lists; tuples keep the config hashable.
        object.__setattr__(self, "image_shape", tuple(int(v) for v in self.image_shape))
        object.__setattr__(self, "channels", tuple(int(v) for v in self.channels))
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"unknown likelihood {self.likelihood!r}; choose from {sorted(LIKELIHOODS)}")
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {self.architecture!r}; choose from {sorted(ARCHITECTURES)}")
        if min(self.dim, self.latent_dim, self.hidden_dim) < 1 or self.num_hidden < 0:
            raise ValueError(f"invalid VAEConfig {self}")
        problem = ARCHITECTURES[self.architecture].check(self)
        if problem:
            raise ValueError(f"invalid VAEConfig: {problem}")

    def to_json(self) -> dict[str, Any]:
        # Lists, as JSON reads them back: a resumed run compares this with the stored copy.
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


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
