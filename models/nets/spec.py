"""Architecture of the MLP denoiser and its parameter naming scheme.

The network maps a noisy vector ``x`` (n, data_dim) and a scalar noise
conditioning value per row ``c_noise`` (n,) to an output of shape
(n, data_dim)::

    e    = sinusoidal(c_noise)                         (n, time_embed_dim)
    temb = time_out(silu(time_in(e)))                  (n, hidden_dim)
    h    = input(x)                                    (n, hidden_dim)
    h    = h + blocks[i](silu(h + temb))   for each i  (residual blocks)
    out  = output(silu(h))                             (n, data_dim)

Linear layers store ``weight`` as (out, in) and ``bias`` as (out,), i.e. the
torch ``nn.Linear`` convention, so the torch ``state_dict`` keys *are* the
scheme and the JAX side computes ``x @ weight.T + bias``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class MLPConfig:
    """Hyper-parameters of the MLP denoiser.

    Attributes:
        data_dim: size of the input / output vectors.
        hidden_dim: width of every hidden layer.
        num_blocks: number of residual blocks.
        time_embed_dim: size of the sinusoidal embedding (even).
        max_period: longest period of the sinusoidal embedding.
    """

    data_dim: int
    hidden_dim: int = 128
    num_blocks: int = 3
    time_embed_dim: int = 32
    max_period: float = 10_000.0
    kind: ClassVar[str] = "mlp"  # name in models.nets.registry.NETS

    def __post_init__(self):
        if self.time_embed_dim % 2:
            raise ValueError(f"time_embed_dim must be even, got {self.time_embed_dim}")
        if min(self.data_dim, self.hidden_dim, self.time_embed_dim) < 1 or self.num_blocks < 0:
            raise ValueError(f"invalid MLPConfig {self}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "MLPConfig":
        return cls(**data)


def _linear(name: str, n_in: int, n_out: int) -> dict[str, tuple[int, ...]]:
    return {f"{name}.weight": (n_out, n_in), f"{name}.bias": (n_out,)}


def param_shapes(config: MLPConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every parameter, identical for both backends."""
    hidden = config.hidden_dim
    shapes = {}
    shapes.update(_linear("time_in", config.time_embed_dim, hidden))
    shapes.update(_linear("time_out", hidden, hidden))
    shapes.update(_linear("input", config.data_dim, hidden))
    for i in range(config.num_blocks):
        shapes.update(_linear(f"blocks.{i}", hidden, hidden))
    shapes.update(_linear("output", hidden, config.data_dim))
    return shapes


def embedding_frequencies(config: MLPConfig, xp, dtype) -> Any:
    """Frequencies of the sinusoidal embedding, shape (time_embed_dim // 2,).

    Written once against an array namespace ``xp`` (numpy, jax.numpy, torch)
    so both backends use bit-for-bit the same formula.
    """
    import math

    half = config.time_embed_dim // 2
    steps = xp.arange(half, dtype=dtype) / half
    return xp.exp(-math.log(config.max_period) * steps)
