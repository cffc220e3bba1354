"""A residual MLP denoiser with a context input, as pure functions over a flat weight dict.

The unconditional MLP of ``models.nets.spec`` plus one linear map of a
context vector (e.g. an embedded observation) added to the first hidden
layer::

    temb = time_out(silu(time_in(sinusoidal(c_noise))))          (n, hidden)
    h    = input(x) + context(c)                                 (n, hidden)
    h    = h + blocks[i](silu(h + temb))   for each block        (residual)
    out  = output(silu(h))                                       (n, data_dim)

Written once against an array namespace ``xp`` (``array_api_compat.torch`` or
``jax.numpy``); weight names follow ``nn.Linear`` (``<prefix>.<layer>.weight``
(out, in), ``.bias`` (out,)), so one checkpoint runs on both backends.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Mapping

import numpy as np

from models.nets.dense import silu
from models.nets.spec import embedding_frequencies


@dataclass(frozen=True)
class ConditionalMLPConfig:
    """Hyper-parameters of the conditional denoiser.

    Attributes:
        data_dim: size of the noisy input / output vectors.
        context_dim: size of the context vector.
        hidden_dim: width of every hidden layer.
        num_blocks: residual blocks.
        time_embed_dim: size of the sinusoidal noise-level embedding (even).
        max_period: longest period of that embedding.
    """

    data_dim: int
    context_dim: int
    hidden_dim: int = 128
    num_blocks: int = 3
    time_embed_dim: int = 32
    max_period: float = 10_000.0

    def __post_init__(self):
        if self.time_embed_dim % 2 or min(self.data_dim, self.context_dim, self.hidden_dim) < 1 \
                or self.num_blocks < 0:
            raise ValueError(f"invalid ConditionalMLPConfig {self}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _layers(config: ConditionalMLPConfig) -> dict[str, tuple[int, int]]:
    """Layer name -> (fan_in, fan_out)."""
    hidden = config.hidden_dim
    layers = {"time_in": (config.time_embed_dim, hidden), "time_out": (hidden, hidden),
              "input": (config.data_dim, hidden), "context": (config.context_dim, hidden)}
    layers.update({f"blocks.{i}": (hidden, hidden) for i in range(config.num_blocks)})
    layers["output"] = (hidden, config.data_dim)
    return layers


def param_shapes(config: ConditionalMLPConfig, prefix: str = "score") -> dict[str, tuple[int, ...]]:
    """Name -> shape of every weight (identical on both backends)."""
    shapes = {}
    for name, (n_in, n_out) in _layers(config).items():
        shapes[f"{prefix}.{name}.weight"] = (n_out, n_in)
        shapes[f"{prefix}.{name}.bias"] = (n_out,)
    return shapes


def init_weights(config: ConditionalMLPConfig, gen: np.random.Generator,
                 prefix: str = "score") -> dict[str, np.ndarray]:
    """torch-style uniform(+-1/sqrt(fan_in)) float32 weights."""
    weights = {}
    for name, shape in param_shapes(config, prefix).items():
        bound = 1.0 / math.sqrt(_layers(config)[name[len(prefix) + 1:].rsplit(".", 1)[0]][0])
        weights[name] = gen.uniform(-bound, bound, size=shape).astype(np.float32)
    return weights


def _linear(params: Mapping[str, Any], name: str, x: Any) -> Any:
    return x @ params[f"{name}.weight"].T + params[f"{name}.bias"]


def apply(params: Mapping[str, Any], x: Any, c_noise: Any, context: Any, config: ConditionalMLPConfig,
          xp: Any, prefix: str = "score") -> Any:
    """Network output (n, data_dim) for x (n, data_dim), c_noise (n,), context (n, context_dim)."""
    freqs = embedding_frequencies(config, xp, x.dtype)
    args = c_noise[:, None] * freqs[None, :]
    emb = xp.concat([xp.cos(args), xp.sin(args)], axis=-1)
    temb = _linear(params, f"{prefix}.time_out", silu(_linear(params, f"{prefix}.time_in", emb), xp))
    h = _linear(params, f"{prefix}.input", x) + _linear(params, f"{prefix}.context", context)
    for i in range(config.num_blocks):
        h = h + _linear(params, f"{prefix}.blocks.{i}", silu(h + temb, xp))
    return _linear(params, f"{prefix}.output", silu(h, xp))
