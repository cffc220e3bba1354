"""Op implementations for torch (the Pyro backend)."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import torch
import torch.nn.functional as F

from ..ops import _gather_key, _index_key


def _dims(axis: Any) -> Any:
    return tuple(axis) if isinstance(axis, (tuple, list)) else axis


def _reduce(fn_all, fn_dim):
    def op(x, axis=None, keepdims=False):
        if axis is None:
            out = fn_all(x)
            return out.reshape((1,) * x.ndim) if keepdims else out
        return fn_dim(x, dim=_dims(axis), keepdim=keepdims)
    return op


def _promote(*xs: Any) -> list[Any]:
    # numpy promotes int+float to float; torch needs tensors on one dtype for where/clip.
    tensors = [x if isinstance(x, torch.Tensor) else torch.as_tensor(x) for x in xs]
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    return [t.to(dtype) for t in tensors]


def torch_table() -> SimpleNamespace:
    """The torch op table; names and semantics match :func:`ppl.ops.numpy_like_table`."""
    return SimpleNamespace(
        add=torch.add, subtract=torch.sub, multiply=torch.mul, divide=torch.true_divide,
        power=torch.pow, negative=torch.neg, matmul=torch.matmul,
        less=torch.lt, less_equal=torch.le, greater=torch.gt, greater_equal=torch.ge,
        equal=torch.eq, not_equal=torch.ne,
        exp=torch.exp, log=torch.log, log1p=torch.log1p, expm1=torch.expm1, sqrt=torch.sqrt,
        abs=torch.abs, tanh=torch.tanh, sin=torch.sin, cos=torch.cos, square=torch.square,
        sigmoid=torch.sigmoid, logit=torch.logit, softplus=F.softplus,
        sum=_reduce(torch.sum, torch.sum), mean=_reduce(torch.mean, torch.mean),
        logsumexp=_reduce(lambda x: torch.logsumexp(x.reshape(-1), 0), torch.logsumexp),
        where=lambda c, a, b: torch.where(c, *_promote(a, b)),
        stack=lambda *xs, axis=0: torch.stack(_promote(*xs), dim=axis),
        concatenate=lambda *xs, axis=0: torch.cat(_promote(*xs), dim=axis),
        clip=lambda x, lo, hi: torch.clamp(x, lo, hi),
        gather=lambda x, index, axis=-1: x[_gather_key(x.ndim, axis, index.long())],
        getitem=lambda x, *arrays, key: x[_index_key(key, [a.long() if not a.is_floating_point()
                                                           else a for a in arrays])],
        transpose=lambda x: x.transpose(-1, -2),
        reshape=lambda x, shape: x.reshape(shape),
        numeric=lambda *xs, fn: fn.call("pyro", *xs),
    )
