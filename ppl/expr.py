"""Symbolic values: the expression trees that deterministic parts of a model build.

While a model is traced every value it computes is an :class:`Expr`. Python
operators, ``numpy`` ufuncs and :mod:`ppl.ops` on an ``Expr`` build new
``Apply`` nodes instead of computing numbers. Each node knows its shape and
dtype: they are found by running the op's numpy implementation on cheap
placeholder arrays, so shape rules are exactly numpy's broadcasting rules and
need no second implementation.
"""
from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from .errors import ModelError

_ids = itertools.count()


class Expr:
    """A symbolic array. Subclasses: :class:`Const`, :class:`SiteValue`, :class:`Apply`."""

    shape: tuple[int, ...]
    dtype: np.dtype
    # Make numpy hand ufuncs and binary operators with an Expr operand to us.
    __array_priority__ = 1000

    def __init__(self) -> None:
        self.id = next(_ids)

    # -- array-like introspection -------------------------------------------------
    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=int))

    def __len__(self) -> int:
        if not self.shape:
            raise ModelError("len() of a scalar symbolic value")
        return self.shape[0]

    def __bool__(self) -> bool:
        raise ModelError(
            "a symbolic value has no truth value while a model is traced; "
            "use ppl.ops.where(cond, a, b) instead of if/else on random values"
        )

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    __hash__ = object.__hash__

    # -- operators ------------------------------------------------------------------
    def _bin(self, name: str, other: Any, reverse: bool = False) -> "Expr":
        return apply(name, other, self) if reverse else apply(name, self, other)

    def __add__(self, o): return self._bin("add", o)
    def __radd__(self, o): return self._bin("add", o, True)
    def __sub__(self, o): return self._bin("subtract", o)
    def __rsub__(self, o): return self._bin("subtract", o, True)
    def __mul__(self, o): return self._bin("multiply", o)
    def __rmul__(self, o): return self._bin("multiply", o, True)
    def __truediv__(self, o): return self._bin("divide", o)
    def __rtruediv__(self, o): return self._bin("divide", o, True)
    def __pow__(self, o): return self._bin("power", o)
    def __rpow__(self, o): return self._bin("power", o, True)
    def __matmul__(self, o): return self._bin("matmul", o)
    def __rmatmul__(self, o): return self._bin("matmul", o, True)
    def __lt__(self, o): return self._bin("less", o)
    def __le__(self, o): return self._bin("less_equal", o)
    def __gt__(self, o): return self._bin("greater", o)
    def __ge__(self, o): return self._bin("greater_equal", o)
    def __eq__(self, o): return self._bin("equal", o)  # type: ignore[override]
    def __ne__(self, o): return self._bin("not_equal", o)  # type: ignore[override]
    def __neg__(self): return apply("negative", self)
    def __pos__(self): return self
    def __abs__(self): return apply("abs", self)

    def __getitem__(self, key: Any) -> "Expr":
        key = key if isinstance(key, tuple) else (key,)
        # Array-valued keys (data, latents, index arrays) become arguments of the
        # node so they are lowered like any other value; the rest stays static.
        slots, static = [], []
        for k in key:
            if _is_array_like(k):
                static.append(_KeySlot(len(slots)))
                slots.append(k)
            else:
                static.append(k)
        return apply("getitem", self, *slots, key=tuple(static))

    @property
    def T(self) -> "Expr":
        return apply("transpose", self)

    def sum(self, axis=None, keepdims=False): return apply("sum", self, axis=axis, keepdims=keepdims)
    def mean(self, axis=None, keepdims=False): return apply("mean", self, axis=axis, keepdims=keepdims)
    def reshape(self, *shape): return apply("reshape", self, shape=_flat_shape(shape))

    # numpy calls this for ufuncs (np.exp(x), ndarray + x): build a node instead.
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from .ops import UFUNC_NAMES

        name = UFUNC_NAMES.get(ufunc.__name__)
        if method != "__call__" or name is None or kwargs:
            raise ModelError(
                f"numpy.{ufunc.__name__} is not supported on symbolic values; use ppl.ops"
            )
        return apply(name, *inputs)

    def __array__(self, *args, **kwargs):
        raise ModelError(
            "a symbolic value cannot be converted to a numpy array while a model is "
            "traced; use ppl.ops functions on it"
        )


class _KeySlot(int):
    """Marks the position of an array-valued index inside a static getitem key."""


class Const(Expr):
    """A constant array (folded at trace time)."""

    def __init__(self, value: Any):
        super().__init__()
        self.value = np.asarray(value)
        self.shape = self.value.shape
        self.dtype = self.value.dtype

    def __repr__(self) -> str:
        return f"Const(shape={self.shape})" if self.shape else f"Const({self.value})"


class SiteValue(Expr):
    """The value of a named site (latent, observed, deterministic, data or param)."""

    def __init__(self, name: str, shape: tuple[int, ...], dtype: np.dtype):
        super().__init__()
        self.name, self.shape, self.dtype = name, tuple(shape), np.dtype(dtype)

    def __repr__(self) -> str:
        return f"SiteValue({self.name!r}, shape={self.shape})"


class Apply(Expr):
    """An op applied to arguments; ``params`` are static keyword arguments."""

    def __init__(self, op: str, args: tuple, params: dict, shape, dtype):
        super().__init__()
        self.op, self.args, self.params = op, args, params
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)

    def __repr__(self) -> str:
        return f"Apply({self.op!r}, shape={self.shape})"


def _is_array_like(x: Any) -> bool:
    return isinstance(x, (Expr, np.ndarray, list)) and not isinstance(x, slice)


def _flat_shape(shape: tuple) -> tuple[int, ...]:
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape


def as_expr(x: Any) -> Expr:
    """Wraps numbers and arrays as :class:`Const`; returns an ``Expr`` unchanged."""
    if isinstance(x, Expr):
        return x
    try:
        return Const(np.asarray(x))
    except Exception as err:  # noqa: BLE001 - reported with context below
        raise ModelError(f"cannot use {type(x).__name__} as a value in a model: {err}") from err


def placeholder(expr: Expr) -> np.ndarray:
    """A numpy stand-in with the expression's shape and dtype.

    Ones for floats (valid in log, sqrt, ...), zeros for integers (valid
    indices into any non-empty axis).
    """
    if isinstance(expr, Const):
        return expr.value
    if expr.dtype.kind in "iu":
        return np.zeros(expr.shape, expr.dtype)
    if expr.dtype.kind == "b":
        return np.ones(expr.shape, bool)
    return np.ones(expr.shape, expr.dtype)


def apply(op: str, *args: Any, **params: Any) -> Expr:
    """Builds the node ``op(*args, **params)``; folds it when every argument is constant."""
    from .ops import numpy_impl

    exprs = tuple(as_expr(a) for a in args)
    impl = numpy_impl(op)
    with np.errstate(all="ignore"):
        try:
            result = np.asarray(impl(*(placeholder(e) for e in exprs), **params))
        except ModelError:
            raise
        except Exception as err:  # noqa: BLE001 - turned into a model error
            shapes = ", ".join(str(e.shape) for e in exprs)
            raise ModelError(f"ops.{op} cannot apply to shapes {shapes}: {err}") from err
    if all(isinstance(e, Const) for e in exprs):
        return Const(result)
    return Apply(op, exprs, params, result.shape, result.dtype)


def leaves(expr: Expr) -> set[str]:
    """Names of the sites an expression depends on."""
    found: set[str] = set()
    stack, seen = [expr], set()
    while stack:
        e = stack.pop()
        if e.id in seen:
            continue
        seen.add(e.id)
        if isinstance(e, SiteValue):
            found.add(e.name)
        elif isinstance(e, Apply):
            stack.extend(e.args)
    return found


def evaluate(expr: Expr, env: dict[str, Any], ops: Any, asarray) -> Any:
    """Evaluates an expression with one backend's op table.

    Args:
        expr: the expression.
        env: site name -> backend array.
        ops: object whose attributes are the backend implementations of each op.
        asarray: converts a numpy constant to a backend array.
    """
    cache: dict[int, Any] = {}

    def go(e: Expr) -> Any:
        if e.id in cache:
            return cache[e.id]
        if isinstance(e, Const):
            out = asarray(e.value)
        elif isinstance(e, SiteValue):
            out = env[e.name]
        else:
            out = getattr(ops, e.op)(*(go(a) for a in e.args), **e.params)
        cache[e.id] = out
        return out

    return go(expr)
