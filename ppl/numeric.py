"""The escape hatch: user numeric functions (simulators, forward models) in a model.

A function written once against the Array API receives the array namespace
of the backend as its first argument (numpy, jax.numpy, or torch through
``array_api_compat``). Alternatively give one implementation per backend.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .errors import LoweringError
from .expr import Apply, Expr, apply, as_expr

_NAMESPACES: dict[str, Callable[[], Any]] = {
    "numpy": lambda: np,
    "numpyro": lambda: __import__("jax.numpy", fromlist=["numpy"]),
    "pyro": lambda: __import__("array_api_compat.torch", fromlist=["torch"]),
}


@dataclass(frozen=True, eq=False)
class NumericFunction:
    """A user function usable on symbolic values.

    Attributes:
        name: shown in the graph and in errors.
        array_api: ``fn(xp, *arrays)`` written against the Array API, or None.
        per_backend: backend name ("numpy", "numpyro", "pyro") -> ``fn(*arrays)``.
        shape: output shape, needed only when no numpy implementation exists.
        dtype: output dtype in that case.
    """

    name: str
    array_api: Callable[..., Any] | None = None
    per_backend: dict[str, Callable[..., Any]] = field(default_factory=dict)
    shape: tuple[int, ...] | None = None
    dtype: str = "float64"

    def call(self, backend: str, *arrays: Any) -> Any:
        if backend in self.per_backend:
            return self.per_backend[backend](*arrays)
        if self.array_api is not None:
            return self.array_api(_NAMESPACES[backend](), *arrays)
        raise LoweringError(
            f"numeric function '{self.name}' has no implementation for backend "
            f"'{backend}'; give it with ppl.numeric(..., {backend}=fn) or write it "
            "against the Array API")

    def supports(self, backend: str) -> bool:
        """Whether the function has an implementation for ``backend``."""
        return backend in self.per_backend or self.array_api is not None

    def runs_on_numpy(self) -> bool:
        return self.array_api is not None or "numpy" in self.per_backend

    def __call__(self, *args: Any) -> Expr:
        if self.runs_on_numpy():
            return apply("numeric", *args, fn=self)
        if self.shape is None:
            raise LoweringError(
                f"numeric function '{self.name}' has no numpy implementation, so its "
                "output shape is unknown: pass shape=... to ppl.numeric")
        return Apply("numeric", tuple(as_expr(a) for a in args), {"fn": self},
                     self.shape, np.dtype(self.dtype))


def numeric(fn: Callable[..., Any] | None = None, *, name: str | None = None,
            shape: tuple[int, ...] | None = None, dtype: str = "float64",
            **per_backend: Callable[..., Any]) -> Any:
    """Makes a numeric function callable on symbolic values inside a model.

    Usage::

        @ppl.numeric                       # fn(xp, *arrays), Array API
        def simulate(xp, theta): ...

        forward = ppl.numeric(numpyro=jax_fn, pyro=torch_fn, shape=(10,))

    Args:
        fn: an Array-API function taking the namespace first.
        name: display name (defaults to the function's name).
        shape: output shape when there is no numpy implementation.
        dtype: output dtype in that case.
        **per_backend: implementations keyed by "numpy", "numpyro" or "pyro".
    """
    unknown = set(per_backend) - set(_NAMESPACES)
    if unknown:
        raise LoweringError(f"ppl.numeric: unknown backends {sorted(unknown)}; "
                            f"use {sorted(_NAMESPACES)}")

    def build(f: Callable[..., Any] | None) -> NumericFunction:
        label = name or getattr(f, "__name__", None) or next(
            (getattr(g, "__name__", "numeric") for g in per_backend.values()), "numeric")
        return NumericFunction(label, f, dict(per_backend), shape, dtype)

    if fn is None and not per_backend:
        return build
    return build(fn)
