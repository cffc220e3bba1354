"""Linear operators: the forward maps of linear inverse problems.

An operator maps arrays whose trailing dims are ``in_shape`` to arrays whose
trailing dims are ``out_shape``; leading dims are a batch. Forward and
adjoint are written once against an array namespace ``xp`` (numpy,
jax.numpy, or torch through ``array_api_compat``), so the same operator runs
in a NumPyro model, a Pyro model and a posterior sampler. The thin SVD of the
flattened matrix (numpy float64) is computed once and cached; subclasses with
structure (masks, separable blurs) override ``_svd``.

Called on a symbolic value inside a model, an operator becomes a ``numeric``
expression node whose ``fn`` is the operator itself, which is how
:mod:`ppl.structure` recognises ``y ~ Normal(A(x), sigma)``.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ShapeError
from ..expr import Expr, SiteValue, apply

# ppl backend name (as ``numeric`` nodes pass it) -> array namespace
_BACKEND_NAMESPACES = {
    "numpy": lambda: np,
    "numpyro": lambda: __import__("jax.numpy", fromlist=["numpy"]),
    "pyro": lambda: __import__("array_api_compat.torch", fromlist=["torch"]),
}


def namespace(x: Any, xp: Any = None) -> Any:
    """``xp`` if given, else the array namespace of ``x``."""
    if xp is not None:
        return xp
    from array_api_compat import array_namespace

    return array_namespace(x)


@dataclass(frozen=True, eq=False)
class OperatorSVD:
    """Thin SVD ``A = U @ diag(s) @ V.T`` of an operator's flattened matrix.

    Attributes:
        U: left singular vectors, shape (out_dim, r), orthonormal columns.
        s: singular values, shape (r,), descending, all > 0.
        V: right singular vectors, shape (in_dim, r), orthonormal columns.
    """

    U: np.ndarray
    s: np.ndarray
    V: np.ndarray

    @property
    def rank(self) -> int:
        return int(self.s.shape[0])


def svd_of_matrix(matrix: np.ndarray) -> OperatorSVD:
    """Thin SVD of a dense matrix, dropping numerically zero singular values."""
    U, s, Vt = np.linalg.svd(np.asarray(matrix, dtype=np.float64), full_matrices=False)
    return _truncate(U, s, Vt.T, max(matrix.shape))


def _truncate(U: np.ndarray, s: np.ndarray, V: np.ndarray, size: int) -> OperatorSVD:
    order = np.argsort(-s, kind="stable")
    U, s, V = U[:, order], s[order], V[:, order]
    # numpy's matrix_rank tolerance: below it a singular value is round-off.
    keep = s > (s[0] if s.size else 0.0) * size * np.finfo(np.float64).eps
    return OperatorSVD(np.ascontiguousarray(U[:, keep]), s[keep].copy(), np.ascontiguousarray(V[:, keep]))


class LinearOperator:
    """A linear map from arrays of ``in_shape`` to arrays of ``out_shape``.

    Subclasses implement ``_forward(x, xp)`` and ``_adjoint(y, xp)`` on arrays
    with any leading batch dims, and may override ``_svd`` and ``_dense``.
    """

    def __init__(self, in_shape: tuple[int, ...], out_shape: tuple[int, ...]):
        self.in_shape = tuple(int(n) for n in in_shape)
        self.out_shape = tuple(int(n) for n in out_shape)
        self._cache: dict[Any, Any] = {}

    # -- sizes and names -------------------------------------------------------------
    @property
    def in_dim(self) -> int:
        return math.prod(self.in_shape)

    @property
    def out_dim(self) -> int:
        return math.prod(self.out_shape)

    @property
    def name(self) -> str:
        """Shown in graph tables and errors."""
        return f"{type(self).__name__}{self.in_shape}->{self.out_shape}"

    def __repr__(self) -> str:
        return self.name

    # -- array maps --------------------------------------------------------------------
    def apply(self, x: Any, xp: Any = None) -> Any:
        """``A x``: (..., *in_shape) -> (..., *out_shape)."""
        self._check(tuple(x.shape), self.in_shape, "input")
        return self._forward(x, namespace(x, xp))

    def adjoint_apply(self, y: Any, xp: Any = None) -> Any:
        """``A^T y``: (..., *out_shape) -> (..., *in_shape)."""
        self._check(tuple(y.shape), self.out_shape, "adjoint input")
        return self._adjoint(y, namespace(y, xp))

    def matvec(self, x: Any, xp: Any = None) -> Any:
        """Flattened forward: (n, in_dim) -> (n, out_dim)."""
        xp = namespace(x, xp)
        out = self.apply(xp.reshape(x, (x.shape[0], *self.in_shape)), xp)
        return xp.reshape(out, (x.shape[0], self.out_dim))

    def rmatvec(self, y: Any, xp: Any = None) -> Any:
        """Flattened adjoint: (n, out_dim) -> (n, in_dim)."""
        xp = namespace(y, xp)
        out = self.adjoint_apply(xp.reshape(y, (y.shape[0], *self.out_shape)), xp)
        return xp.reshape(out, (y.shape[0], self.in_dim))

    def __call__(self, x: Any) -> Any:
        """On a symbolic model value: an expression node; on an array: ``apply``."""
        if isinstance(x, Expr):
            # Checked here: inside expr.apply a ShapeError would become a generic ModelError.
            self._check(tuple(x.shape), self.in_shape, "input",
                        site=x.name if isinstance(x, SiteValue) else None)
            return apply("numeric", x, fn=self)
        return self.apply(x)

    def call(self, backend: str, x: Any) -> Any:
        """The ``numeric`` op protocol: evaluates on a backend's arrays."""
        return self.apply(x, _BACKEND_NAMESPACES[backend]())

    def supports(self, backend: str) -> bool:
        return backend in _BACKEND_NAMESPACES

    # -- matrices ----------------------------------------------------------------------
    def dense(self) -> np.ndarray:
        """The flattened matrix, shape (out_dim, in_dim), numpy float64 (cached)."""
        if "dense" not in self._cache:
            self._cache["dense"] = np.asarray(self._dense(), dtype=np.float64)
        return self._cache["dense"]

    def svd(self) -> OperatorSVD:
        """Thin SVD of :meth:`dense` (cached)."""
        if "svd" not in self._cache:
            self._cache["svd"] = self._svd()
        return self._cache["svd"]

    def _dense(self) -> np.ndarray:
        return self.matvec(np.eye(self.in_dim), np).T

    def _svd(self) -> OperatorSVD:
        return svd_of_matrix(self.dense())

    @property
    def T(self) -> "LinearOperator":
        """The adjoint operator."""
        from .compose import Adjoint

        return Adjoint(self)

    def __matmul__(self, other: Any) -> Any:
        """``a @ b`` composes operators; ``a @ x`` applies ``a`` to a value."""
        from .compose import Composed

        return Composed(self, other) if isinstance(other, LinearOperator) else self(other)

    # -- helpers for subclasses ----------------------------------------------------------
    def constant(self, key: str, value: np.ndarray, like: Any, xp: Any, cast: bool = True) -> Any:
        """``value`` in ``xp`` on ``like``'s device, in ``like``'s float dtype if ``cast`` (cached)."""
        from array_api_compat import is_torch_array

        device = like.device if is_torch_array(like) else None
        dtype = like.dtype if cast and _is_floating(like) else None
        cache_key = (key, id(xp), str(dtype), str(device))
        if cache_key not in self._cache:
            kwargs = {"device": device} if device is not None else {}
            with _eager(xp):
                self._cache[cache_key] = xp.asarray(value, dtype=dtype, **kwargs)
        return self._cache[cache_key]

    def _check(self, shape: tuple[int, ...], expected: tuple[int, ...], what: str,
               site: str | None = None) -> None:
        k = len(expected)
        if len(shape) < k or shape[len(shape) - k:] != expected:
            raise ShapeError(f"{self.name}: {what} of shape {shape} does not end in the "
                             f"operator's shape {expected}", site=site)

    def _batch(self, x: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(x.shape[: len(x.shape) - len(shape)])

    def _forward(self, x: Any, xp: Any) -> Any:
        raise NotImplementedError

    def _adjoint(self, y: Any, xp: Any) -> Any:
        raise NotImplementedError


def _eager(xp: Any) -> Any:
    """Inside a JAX trace, constants must be made concretely, or the cache would leak tracers."""
    if getattr(xp, "__name__", "").startswith("jax"):
        import jax

        return jax.ensure_compile_time_eval()
    return contextlib.nullcontext()


def _is_floating(x: Any) -> bool:
    kind = getattr(getattr(x, "dtype", None), "is_floating_point", None)
    if kind is not None:  # torch dtype
        return bool(kind)
    return np.dtype(x.dtype).kind == "f"
