"""The ops vocabulary: functions that build expression nodes on symbolic values.

Every op has one implementation per array library. numpy and jax.numpy share
one table (:func:`numpy_like_table`, written once over the namespace); torch
has its own in ``ppl.backends.torch_ops``. Called on plain numbers or arrays,
the functions here fold to constants.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable, Sequence

import numpy as np

from .errors import LoweringError
from .expr import Expr, _KeySlot, apply

# numpy ufunc name -> op name, so that np.exp(x) on a symbolic x builds a node.
UFUNC_NAMES = {
    "add": "add", "subtract": "subtract", "multiply": "multiply", "true_divide": "divide",
    "divide": "divide", "power": "power", "negative": "negative", "matmul": "matmul",
    "less": "less", "less_equal": "less_equal", "greater": "greater",
    "greater_equal": "greater_equal", "equal": "equal", "not_equal": "not_equal",
    "exp": "exp", "log": "log", "log1p": "log1p", "expm1": "expm1", "sqrt": "sqrt",
    "absolute": "abs", "tanh": "tanh", "sin": "sin", "cos": "cos", "square": "square",
}


def _index_key(key: tuple, arrays: Sequence[Any]) -> tuple:
    return tuple(arrays[k] if isinstance(k, _KeySlot) else k for k in key)


def _gather_key(ndim: int, axis: int, index: Any) -> tuple:
    axis = axis % ndim
    return (slice(None),) * axis + (index,)


def numpy_like_table(backend: str, xp: Any, special: Any, nn: Any) -> SimpleNamespace:
    """Op implementations for a numpy-like namespace (numpy or jax.numpy).

    Args:
        backend: "numpy" or "numpyro"; selects user numeric functions.
        xp: the array namespace.
        special: module with ``logsumexp`` and ``expit``/``logit`` (scipy.special
            or jax.scipy.special).
        nn: module with ``softplus`` or None to use ``logaddexp(x, 0)``.
    """
    def softplus(x):
        return nn.softplus(x) if nn is not None else xp.logaddexp(x, 0.0)

    return SimpleNamespace(
        add=xp.add, subtract=xp.subtract, multiply=xp.multiply, divide=xp.divide,
        power=xp.power, negative=xp.negative, matmul=xp.matmul,
        less=xp.less, less_equal=xp.less_equal, greater=xp.greater,
        greater_equal=xp.greater_equal, equal=xp.equal, not_equal=xp.not_equal,
        exp=xp.exp, log=xp.log, log1p=xp.log1p, expm1=xp.expm1, sqrt=xp.sqrt,
        abs=xp.abs, tanh=xp.tanh, sin=xp.sin, cos=xp.cos, square=xp.square,
        sigmoid=special.expit, logit=special.logit, softplus=softplus,
        sum=lambda x, axis=None, keepdims=False: xp.sum(x, axis=axis, keepdims=keepdims),
        mean=lambda x, axis=None, keepdims=False: xp.mean(x, axis=axis, keepdims=keepdims),
        logsumexp=lambda x, axis=None, keepdims=False: special.logsumexp(
            x, axis=axis, keepdims=keepdims),
        where=xp.where,
        stack=lambda *xs, axis=0: xp.stack(xs, axis=axis),
        concatenate=lambda *xs, axis=0: xp.concatenate(xs, axis=axis),
        clip=lambda x, lo, hi: xp.clip(x, lo, hi),
        # asarray: x may be a host constant indexed by a traced (JAX) index.
        gather=lambda x, index, axis=-1: xp.asarray(x)[_gather_key(xp.ndim(x), axis, index)],
        getitem=lambda x, *arrays, key: xp.asarray(x)[_index_key(key, arrays)],
        transpose=lambda x: xp.swapaxes(x, -1, -2),
        reshape=lambda x, shape: xp.reshape(x, shape),
        numeric=lambda *xs, fn: fn.call(backend, *xs),
    )


def _numpy_table() -> SimpleNamespace:
    import scipy.special

    return numpy_like_table("numpy", np, scipy.special, None)


_NUMPY = _numpy_table()
OP_NAMES = frozenset(vars(_NUMPY))


def numpy_impl(op: str) -> Callable:
    """The numpy implementation of ``op`` (used for shapes and constant folding)."""
    try:
        return getattr(_NUMPY, op)
    except AttributeError:
        raise LoweringError(f"unknown op '{op}'") from None


# -- public builders ---------------------------------------------------------------
def _unary(name: str) -> Callable[[Any], Expr]:
    def op(x: Any) -> Expr:
        return apply(name, x)

    op.__name__ = name
    op.__doc__ = f"Elementwise ``{name}`` of a value (same shape)."
    return op


exp, log, log1p, expm1, sqrt = map(_unary, ["exp", "log", "log1p", "expm1", "sqrt"])
abs, tanh, sigmoid, logit, softplus = map(  # noqa: A001 - mirrors numpy's name
    _unary, ["abs", "tanh", "sigmoid", "logit", "softplus"])
sin, cos, square = map(_unary, ["sin", "cos", "square"])


def sum(x: Any, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Expr:  # noqa: A001
    """Sum over ``axis`` (all axes when None)."""
    return apply("sum", x, axis=axis, keepdims=keepdims)


def mean(x: Any, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Expr:
    """Mean over ``axis`` (all axes when None)."""
    return apply("mean", x, axis=axis, keepdims=keepdims)


def logsumexp(x: Any, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Expr:
    """``log(sum(exp(x)))`` over ``axis``, computed stably."""
    return apply("logsumexp", x, axis=axis, keepdims=keepdims)


def matmul(a: Any, b: Any) -> Expr:
    """Matrix product with numpy's broadcasting rules; same as ``a @ b``."""
    return apply("matmul", a, b)


def where(cond: Any, a: Any, b: Any) -> Expr:
    """Elementwise ``a`` where ``cond`` else ``b`` (broadcast)."""
    return apply("where", cond, a, b)


def stack(values: Sequence[Any], axis: int = 0) -> Expr:
    """Stacks equally shaped values along a new ``axis``."""
    return apply("stack", *values, axis=axis)


def concatenate(values: Sequence[Any], axis: int = 0) -> Expr:
    """Joins values along an existing ``axis``."""
    return apply("concatenate", *values, axis=axis)


def clip(x: Any, low: Any, high: Any) -> Expr:
    """Limits ``x`` to ``[low, high]``."""
    return apply("clip", x, low, high)


def gather(x: Any, index: Any, axis: int = -1) -> Expr:
    """Takes entries of ``x`` at integer ``index`` along ``axis``.

    Shape: ``x.shape[:axis] + index.shape + x.shape[axis+1:]`` (like ``np.take``).
    """
    return apply("gather", x, index, axis=axis)


def transpose(x: Any) -> Expr:
    """Swaps the last two axes."""
    return apply("transpose", x)


def reshape(x: Any, shape: tuple[int, ...]) -> Expr:
    """Reshapes ``x`` to ``shape``."""
    return apply("reshape", x, shape=tuple(shape))
