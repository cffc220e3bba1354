"""A small UNet denoiser for images (8x8 up to 32x32), one forward for torch and JAX.

The network has the MLP denoiser's interface, so ``DiffusionPrior`` uses it
unchanged: flat noisy images x (n, C*H*W) and c_noise (n,) in, (n, C*H*W)
out. Inside, with L = len(channels)::

    temb = time.1(silu(time.0(sinusoidal(c_noise))))            (n, 4 * channels[0])
    h    = conv_in(x)                                           (n, channels[0], H, W)
    for l < L:      h = down.l.block(h, temb); keep h as skip l; (h = down.l.down(h) if l < L-1)
    h    = mid(h, temb)
    for l reversed: h = up.l.block(concat(h, skip l), temb);     (h = up.l.up(h) if l > 0)
    out  = conv_out(silu(norm_out(h)))                          (n, C, H, W)

Blocks are ``models.nets.conv.resblock``; weights are a flat dict named as in
``param_shapes`` (torch conventions), evaluated by ``apply`` on either backend.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

import numpy as np

from models.nets import conv
from models.nets.dense import dense_apply, dense_shapes, silu
from models.nets.spec import embedding_frequencies


@dataclass(frozen=True)
class UNetConfig:
    """Hyper-parameters of the UNet denoiser.

    Attributes:
        image_shape: (channels, height, width) of one image; height and width
            must be divisible by 2 ** (len(channels) - 1).
        channels: feature channels per resolution level (one level per entry).
        num_groups: groups of every GroupNorm (0: no normalisation); must
            divide every entry of ``channels``.
        time_embed_dim: size of the sinusoidal embedding (even).
        max_period: longest period of the sinusoidal embedding.
    """

    image_shape: tuple[int, int, int]
    channels: tuple[int, ...] = (32, 64)
    num_groups: int = 8
    time_embed_dim: int = 32
    max_period: float = 10_000.0
    kind: ClassVar[str] = "unet"

    def __post_init__(self):
        # JSON gives lists; tuples keep the config hashable and comparable.
        object.__setattr__(self, "image_shape", tuple(int(v) for v in self.image_shape))
        object.__setattr__(self, "channels", tuple(int(v) for v in self.channels))
        problem = self._problem()
        if problem:
            raise ValueError(f"invalid UNetConfig: {problem}")

    def _problem(self) -> str | None:
        if len(self.image_shape) != 3 or min(self.image_shape) < 1:
            return f"image_shape must be (C, H, W), got {self.image_shape}"
        factor = 2 ** (len(self.channels) - 1)
        if not self.channels or min(self.channels) < 1 or any(s % factor for s in self.image_shape[1:]):
            return f"{len(self.channels)} levels need H, W divisible by {factor}"
        if self.num_groups < 0 or (self.num_groups and any(c % self.num_groups for c in self.channels)):
            return f"num_groups={self.num_groups} must divide every channel count {self.channels}"
        if self.time_embed_dim < 2 or self.time_embed_dim % 2:
            return f"time_embed_dim must be even, got {self.time_embed_dim}"
        return None

    @property
    def data_dim(self) -> int:
        return int(np.prod(self.image_shape))

    @property
    def temb_dim(self) -> int:
        return 4 * self.channels[0]

    def to_json(self) -> dict[str, Any]:
        return {"image_shape": list(self.image_shape), "channels": list(self.channels),
                "num_groups": self.num_groups, "time_embed_dim": self.time_embed_dim,
                "max_period": self.max_period}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "UNetConfig":
        return cls(**data)


def _up_inputs(config: UNetConfig) -> list[int]:
    """Channels entering ``up.l.block``: the path from below plus skip l."""
    ch = config.channels
    return [(ch[l + 1] if l + 1 < len(ch) else ch[-1]) + ch[l] for l in range(len(ch))]


def param_shapes(config: UNetConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every parameter, identical for both backends."""
    ch, groups, temb = config.channels, config.num_groups, config.temb_dim
    shapes = {**dense_shapes("time", [config.time_embed_dim, temb, temb]),
              **conv.conv_shapes("conv_in", config.image_shape[0], ch[0])}
    for l, c in enumerate(ch):
        shapes.update(conv.resblock_shapes(f"down.{l}.block", ch[max(l - 1, 0)], c, groups, temb))
        if l < len(ch) - 1:
            shapes.update(conv.conv_shapes(f"down.{l}.down", c, c))
    shapes.update(conv.resblock_shapes("mid", ch[-1], ch[-1], groups, temb))
    for l in reversed(range(len(ch))):
        shapes.update(conv.resblock_shapes(f"up.{l}.block", _up_inputs(config)[l], ch[l], groups, temb))
        if l > 0:
            shapes.update(conv.conv_shapes(f"up.{l}.up", ch[l], ch[l]))
    shapes.update({**conv.norm_shapes("norm_out", ch[0], groups),
                   **conv.conv_shapes("conv_out", ch[0], config.image_shape[0])})
    return shapes


def init_weights(config: UNetConfig, seed: int) -> dict[str, np.ndarray]:
    """Seeded torch-style float32 weights."""
    return conv.init_weights(param_shapes(config), seed)


def _time_embedding(params: Mapping[str, Any], c_noise: Any, config: UNetConfig, xp: Any) -> Any:
    args = c_noise[:, None] * embedding_frequencies(config, xp, c_noise.dtype)[None, :]
    return dense_apply(params, "time", xp.concat([xp.cos(args), xp.sin(args)], axis=-1), 2, xp)


def apply(params: Mapping[str, Any], x: Any, c_noise: Any, config: UNetConfig, xp: Any) -> Any:
    """Evaluate the UNet.

    Args:
        params: weights keyed by ``param_shapes``.
        x: noisy flattened images, shape (n, C*H*W).
        c_noise: noise conditioning values, shape (n,).
        config: the architecture (static).
        xp: ``array_api_compat.torch`` or ``jax.numpy``.

    Returns:
        Network output, shape (n, C*H*W).
    """
    ops, groups, levels = conv.conv_ops(xp), config.num_groups, len(config.channels)
    temb = _time_embedding(params, c_noise, config, xp)
    h = conv.conv(params, "conv_in", xp.reshape(x, (x.shape[0], *config.image_shape)), ops)
    skips = []
    for l in range(levels):
        h = conv.resblock(params, f"down.{l}.block", h, temb, groups, ops, xp)
        skips.append(h)
        if l < levels - 1:
            h = conv.downsample(params, f"down.{l}.down", h, ops)
    h = conv.resblock(params, "mid", h, temb, groups, ops, xp)
    for l in reversed(range(levels)):
        h = conv.resblock(params, f"up.{l}.block", xp.concat([h, skips[l]], axis=1), temb, groups, ops, xp)
        if l > 0:
            h = conv.upsample(params, f"up.{l}.up", h, ops)
    h = conv.conv(params, "conv_out", silu(conv.group_norm(params, "norm_out", h, groups, xp), xp), ops)
    return xp.reshape(h, (x.shape[0], config.data_dim))
