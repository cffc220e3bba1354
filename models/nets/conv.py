"""Convolutional building blocks written once for torch and JAX.

Weights follow torch's conventions: conv weight (out, in, kh, kw) and bias
(out,), NCHW activations, norm weight / bias (C,), linear weight (out, in). So
one flat weight dict (the checkpoint format) drives
``torch.nn.functional.conv2d`` and ``jax.lax.conv_general_dilated`` alike.
Only the convolution and the 2x nearest upsampling differ per backend
(``CONV_OPS``); group norm, residual blocks and their time conditioning are
shared code over the array namespace ``xp``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from models.nets.dense import silu

Shapes = dict[str, tuple[int, ...]]


# -- backend-specific primitives -------------------------------------------------------
def _torch_conv2d(x, weight, bias, stride):
    import torch.nn.functional as F

    return F.conv2d(x, weight, bias, stride=stride, padding=weight.shape[-1] // 2)


def _torch_upsample2x(x):
    return x.repeat_interleave(2, dim=-2).repeat_interleave(2, dim=-1)


def _jax_conv2d(x, weight, bias, stride):
    import jax

    pad = weight.shape[-1] // 2
    # HIGHEST: on GPUs the default may use TF32, which breaks cross-backend equality.
    y = jax.lax.conv_general_dilated(x, weight, (stride, stride), [(pad, pad), (pad, pad)],
                                     dimension_numbers=("NCHW", "OIHW", "NCHW"),
                                     precision=jax.lax.Precision.HIGHEST)
    return y + bias[None, :, None, None]


def _jax_upsample2x(x):
    import jax.numpy as jnp

    return jnp.repeat(jnp.repeat(x, 2, axis=-2), 2, axis=-1)


@dataclass(frozen=True)
class ConvOps:
    """The two operations the Array API lacks.

    Attributes:
        conv2d: (x (n, c, h, w), weight (o, c, k, k), bias (o,), stride) -> (n, o, h/stride, w/stride),
            zero padding k // 2 (odd k), cross-correlation like torch.
        upsample2x: nearest-neighbour (n, c, h, w) -> (n, c, 2h, 2w).
    """

    conv2d: Callable[[Any, Any, Any, int], Any]
    upsample2x: Callable[[Any], Any]


CONV_OPS = {"torch": ConvOps(_torch_conv2d, _torch_upsample2x), "jax": ConvOps(_jax_conv2d, _jax_upsample2x)}


def conv_ops(xp: Any) -> ConvOps:
    """The ``ConvOps`` for an array namespace (``array_api_compat.torch`` or ``jax.numpy``)."""
    from array_api_compat import is_jax_namespace, is_torch_namespace

    for name, matches in (("torch", is_torch_namespace), ("jax", is_jax_namespace)):
        if matches(xp):
            return CONV_OPS[name]
    raise TypeError(f"no convolution ops for array namespace {xp!r}; choose from {sorted(CONV_OPS)}")


# -- parameter shapes and initialisation --------------------------------------------------
def conv_shapes(name: str, c_in: int, c_out: int, kernel: int = 3) -> Shapes:
    return {f"{name}.weight": (c_out, c_in, kernel, kernel), f"{name}.bias": (c_out,)}


def linear_shapes(name: str, n_in: int, n_out: int) -> Shapes:
    return {f"{name}.weight": (n_out, n_in), f"{name}.bias": (n_out,)}


def norm_shapes(name: str, channels: int, groups: int) -> Shapes:
    return {} if groups == 0 else {f"{name}.weight": (channels,), f"{name}.bias": (channels,)}


def resblock_shapes(name: str, c_in: int, c_out: int, groups: int, temb_dim: int = 0) -> Shapes:
    """norm1, conv1, [temb], norm2, conv2, [skip 1x1 when c_in != c_out]."""
    shapes = {**norm_shapes(f"{name}.norm1", c_in, groups), **conv_shapes(f"{name}.conv1", c_in, c_out)}
    if temb_dim:
        shapes.update(linear_shapes(f"{name}.temb", temb_dim, c_out))
    shapes.update({**norm_shapes(f"{name}.norm2", c_out, groups), **conv_shapes(f"{name}.conv2", c_out, c_out)})
    if c_in != c_out:
        shapes.update(conv_shapes(f"{name}.skip", c_in, c_out, kernel=1))
    return shapes


def init_weights(shapes: Shapes, seed: int) -> dict[str, np.ndarray]:
    """torch-style float32 initialisation from a shape dict.

    Norms start as the identity (weight 1, bias 0); every other weight and its
    bias are uniform(+-1/sqrt(fan_in)), as ``nn.Conv2d`` / ``nn.Linear`` do.
    """
    gen = np.random.default_rng(seed)
    weights = {}
    for name, shape in shapes.items():
        layer, leaf = name.rsplit(".", 1)
        if layer.rsplit(".", 1)[-1].startswith("norm"):
            weights[name] = np.full(shape, 1.0 if leaf == "weight" else 0.0, np.float32)
            continue
        fan_in = int(np.prod(shapes[f"{layer}.weight"][1:]))
        bound = 1.0 / math.sqrt(fan_in)
        weights[name] = gen.uniform(-bound, bound, size=shape).astype(np.float32)
    return weights


# -- shared forward pieces --------------------------------------------------------------
def linear(params: Mapping[str, Any], name: str, x: Any) -> Any:
    return x @ params[f"{name}.weight"].T + params[f"{name}.bias"]


def conv(params: Mapping[str, Any], name: str, x: Any, ops: ConvOps, stride: int = 1) -> Any:
    return ops.conv2d(x, params[f"{name}.weight"], params[f"{name}.bias"], stride)


def group_norm(params: Mapping[str, Any], name: str, x: Any, groups: int, xp: Any, eps: float = 1e-5) -> Any:
    """GroupNorm over (channels in group, h, w) like ``nn.GroupNorm``; identity when groups == 0."""
    if groups == 0:
        return x
    n, c, h, w = x.shape
    g = xp.reshape(x, (n, groups, (c // groups) * h * w))
    mean = xp.mean(g, axis=-1, keepdims=True)
    var = xp.mean((g - mean) ** 2, axis=-1, keepdims=True)
    g = xp.reshape((g - mean) / xp.sqrt(var + eps), (n, c, h, w))
    return g * params[f"{name}.weight"][None, :, None, None] + params[f"{name}.bias"][None, :, None, None]


def resblock(params: Mapping[str, Any], name: str, x: Any, temb: Any, groups: int, ops: ConvOps, xp: Any) -> Any:
    """Pre-activation residual block: x (n, c_in, h, w), temb (n, t) or None -> (n, c_out, h, w)."""
    h = conv(params, f"{name}.conv1", silu(group_norm(params, f"{name}.norm1", x, groups, xp), xp), ops)
    if temb is not None:
        h = h + linear(params, f"{name}.temb", silu(temb, xp))[:, :, None, None]
    h = conv(params, f"{name}.conv2", silu(group_norm(params, f"{name}.norm2", h, groups, xp), xp), ops)
    # The weight dict says whether channels change (the 1x1 projection exists only then).
    skip = conv(params, f"{name}.skip", x, ops) if f"{name}.skip.weight" in params else x
    return skip + h


def upsample(params: Mapping[str, Any], name: str, x: Any, ops: ConvOps) -> Any:
    """Nearest 2x upsampling then a 3x3 conv (no checkerboard artefacts of transposed convs)."""
    return conv(params, name, ops.upsample2x(x), ops)


def downsample(params: Mapping[str, Any], name: str, x: Any, ops: ConvOps) -> Any:
    """A stride-2 3x3 conv: (n, c, h, w) -> (n, c, h/2, w/2)."""
    return conv(params, name, x, ops, stride=2)
