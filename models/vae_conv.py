"""Convolutional encoder and decoder of a VAE over images, for torch and JAX.

Built from the UNet's blocks (``models.nets.conv``), with L = len(channels)
levels that each halve (encoder) or double (decoder) the resolution::

    encoder: x (n, C, H, W) -> conv_in -> [encoder.l.block, encoder.l.down] for l < L
             -> flatten -> encoder.head -> (n, 2k)
    decoder: z (n, k) -> decoder.head -> (n, channels[-1], H / 2^L, W / 2^L)
             -> [decoder.l.up, decoder.l.block] for l reversed -> norm_out, conv_out -> (n, C*H*W)
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from models.nets import conv
from models.nets.dense import dense_apply, dense_shapes, silu


def check(config: Any) -> str | None:
    """Why ``config`` (a ``VAEConfig``) cannot be a conv VAE, or None."""
    shape, levels = config.image_shape, len(config.channels)
    if len(shape) != 3 or int(np.prod(shape)) != config.dim:
        return f"a conv VAE needs image_shape (C, H, W) with C*H*W == dim={config.dim}, got {shape}"
    if levels < 1 or min(config.channels) < 1 or any(s % 2**levels for s in shape[1:]):
        return f"{levels} conv levels need H, W divisible by {2 ** levels}, got {shape}"
    if config.num_groups < 0 or (config.num_groups and any(c % config.num_groups for c in config.channels)):
        return f"num_groups={config.num_groups} must divide every channel count {config.channels}"
    return None


def _bottleneck(config: Any) -> tuple[int, int, int]:
    """(channels, h, w) of the lowest-resolution feature map."""
    _, height, width = config.image_shape
    factor = 2 ** len(config.channels)
    return config.channels[-1], height // factor, width // factor


def param_shapes(config: Any) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every encoder / decoder weight."""
    ch, groups, flat = config.channels, config.num_groups, int(np.prod(_bottleneck(config)))
    shapes = conv.conv_shapes("encoder.conv_in", config.image_shape[0], ch[0])
    for l, c in enumerate(ch):
        shapes.update(conv.resblock_shapes(f"encoder.{l}.block", ch[max(l - 1, 0)], c, groups))
        shapes.update(conv.conv_shapes(f"encoder.{l}.down", c, c))
    shapes.update(dense_shapes("encoder.head", [flat, 2 * config.latent_dim]))
    shapes.update(dense_shapes("decoder.head", [config.latent_dim, flat]))
    for l in reversed(range(len(ch))):
        c_in = ch[min(l + 1, len(ch) - 1)]
        shapes.update(conv.conv_shapes(f"decoder.{l}.up", c_in, c_in))
        shapes.update(conv.resblock_shapes(f"decoder.{l}.block", c_in, ch[l], groups))
    shapes.update({**conv.norm_shapes("decoder.norm_out", ch[0], groups),
                   **conv.conv_shapes("decoder.conv_out", ch[0], config.image_shape[0])})
    return shapes


def init_weights(config: Any, seed: int) -> dict[str, np.ndarray]:
    return conv.init_weights(param_shapes(config), seed)


def encode(params: Mapping[str, Any], config: Any, x: Any, xp: Any) -> Any:
    """x (n, d) -> encoder output (n, 2k): mean and log-std of q(z | x)."""
    ops = conv.conv_ops(xp)
    h = conv.conv(params, "encoder.conv_in", xp.reshape(x, (x.shape[0], *config.image_shape)), ops)
    for l in range(len(config.channels)):
        h = conv.resblock(params, f"encoder.{l}.block", h, None, config.num_groups, ops, xp)
        h = conv.downsample(params, f"encoder.{l}.down", h, ops)
    return dense_apply(params, "encoder.head", xp.reshape(silu(h, xp), (x.shape[0], -1)), 1, xp)


def decode(params: Mapping[str, Any], config: Any, z: Any, xp: Any) -> Any:
    """z (..., k) -> decoder outputs (..., d); leading axes are flattened for the convs."""
    ops, lead = conv.conv_ops(xp), tuple(z.shape[:-1])
    flat_z = xp.reshape(z, (-1, config.latent_dim))
    h = xp.reshape(dense_apply(params, "decoder.head", flat_z, 1, xp), (flat_z.shape[0], *_bottleneck(config)))
    for l in reversed(range(len(config.channels))):
        h = conv.upsample(params, f"decoder.{l}.up", h, ops)
        h = conv.resblock(params, f"decoder.{l}.block", h, None, config.num_groups, ops, xp)
    h = silu(conv.group_norm(params, "decoder.norm_out", h, config.num_groups, xp), xp)
    return xp.reshape(conv.conv(params, "decoder.conv_out", h, ops), (*lead, config.dim))
