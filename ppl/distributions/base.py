"""Backend-neutral distribution specs: a family plus parameter expressions.

A spec only describes a distribution. Each backend lowers specs to its
native distribution objects (``ppl.backends``); the compiler uses the spec's
shapes, support and constant parameters for checks before any sampling.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .. import constraints as C
from ..errors import ParameterError, ShapeError
from ..expr import Const, Expr, as_expr


class Distribution:
    """Base class of every distribution spec.

    Attributes:
        batch_shape: shape of independent draws.
        event_shape: shape of one draw.
    """

    batch_shape: tuple[int, ...] = ()
    event_shape: tuple[int, ...] = ()
    is_discrete: bool = False

    @property
    def shape(self) -> tuple[int, ...]:
        return self.batch_shape + self.event_shape

    @property
    def support(self) -> C.Constraint | None:
        """The support, or None when it depends on random parameters."""
        raise NotImplementedError

    def param_exprs(self) -> list[Expr]:
        """Every expression the distribution depends on (for graph edges)."""
        raise NotImplementedError

    def check_params(self, site: str) -> None:
        """Raises :class:`ParameterError` for constant parameters out of range."""

    def expand(self, batch_shape: tuple[int, ...]) -> "Distribution":
        """Broadcasts to a larger batch shape (like Pyro's ``expand``)."""
        return Expanded(self, tuple(batch_shape))

    def to_event(self, n: int | None = None) -> "Distribution":
        """Declares the rightmost ``n`` batch dims as event dims (all when None)."""
        return Independent(self, len(self.batch_shape) if n is None else n)

    def truncate(self, low: Any = None, high: Any = None) -> "Distribution":
        """Restricts a univariate continuous distribution to ``[low, high]``."""
        from .truncated import Truncated

        return Truncated(self, low, high)

    def label(self, name_of: Callable[[Expr], str]) -> str:
        """A one-line readable form, e.g. ``Normal(loc=mu, scale=5)``."""
        raise NotImplementedError


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a family: its constraint and its number of event dims."""

    name: str
    constraint: C.Constraint
    event_dim: int = 0


@dataclass(frozen=True)
class FamilySpec:
    """A distribution family: parameters, support and event shape rule.

    Attributes:
        name: class name in Pyro and NumPyro (they agree).
        params: every parameter the family accepts, in call order.
        support: (constant params or None when random, param shapes) -> support.
        event_shape: param shapes -> event shape.
        discrete: whether draws are integers/booleans.
        static: names of integer parameters passed as Python ints (LKJ dim).
    """

    name: str
    params: tuple[ParamSpec, ...]
    support: Callable[[dict[str, Any], dict[str, tuple]], C.Constraint | None]
    event_shape: Callable[[dict[str, tuple]], tuple[int, ...]] = lambda shapes: ()
    discrete: bool = False
    static: tuple[str, ...] = ()


class FamilyDistribution(Distribution):
    """A distribution of a named family with parameter expressions."""

    def __init__(self, family: FamilySpec, params: dict[str, Any], statics: dict[str, int]):
        self.family = family
        self.params = {k: as_expr(v) for k, v in params.items()}
        self.statics = dict(statics)
        self.is_discrete = family.discrete
        self.event_shape = family.event_shape(
            {**{k: v.shape for k, v in self.params.items()}, **self.statics})
        self.batch_shape = self._batch_shape()

    def _batch_shape(self) -> tuple[int, ...]:
        specs = {p.name: p for p in self.family.params}
        shapes = []
        for k, v in self.params.items():
            ed = specs[k].event_dim
            shapes.append(v.shape[: len(v.shape) - ed] if ed else v.shape)
        try:
            return tuple(np.broadcast_shapes(*shapes)) if shapes else ()
        except ValueError:
            desc = ", ".join(f"{k}{v.shape}" for k, v in self.params.items())
            raise ShapeError(f"{self.family.name} parameters do not broadcast: {desc}") from None

    def constant_params(self) -> dict[str, np.ndarray | None]:
        return {k: (v.value if isinstance(v, Const) else None) for k, v in self.params.items()}

    @property
    def support(self) -> C.Constraint | None:
        shapes = {k: v.shape for k, v in self.params.items()}
        return self.family.support({**self.constant_params(), **self.statics}, shapes)

    def param_exprs(self) -> list[Expr]:
        return list(self.params.values())

    def check_params(self, site: str) -> None:
        for spec in self.family.params:
            value = self.params.get(spec.name)
            if not isinstance(value, Const):
                continue
            ok = spec.constraint.check(value.value)
            if not np.all(ok):
                bad = np.asarray(value.value)[~ok] if np.ndim(ok) else value.value
                raise ParameterError(
                    f"{self.family.name} parameter '{spec.name}' must be {spec.constraint.name}, "
                    f"got {np.ravel(bad)[:5]}", site=site)

    def label(self, name_of: Callable[[Expr], str]) -> str:
        args = [f"{k}={v}" for k, v in self.statics.items()]
        args += [f"{k}={name_of(v)}" for k, v in self.params.items()]
        return f"{self.family.name}({', '.join(args)})"


class Independent(Distribution):
    """Reinterprets ``n`` rightmost batch dims of ``base`` as event dims."""

    def __init__(self, base: Distribution, n: int):
        if n > len(base.batch_shape):
            raise ShapeError(f"to_event({n}) on a distribution with batch shape {base.batch_shape}")
        self.base, self.n = base, n
        cut = len(base.batch_shape) - n
        self.batch_shape = base.batch_shape[:cut]
        self.event_shape = base.batch_shape[cut:] + base.event_shape
        self.is_discrete = base.is_discrete

    @property
    def support(self) -> C.Constraint | None:
        inner = self.base.support
        if inner is None:
            return None
        axes = tuple(range(-self.n, 0))
        return C.Constraint(f"{inner.name}^{self.n}", lambda v: np.all(inner.check(v), axis=axes),
                            inner.event_dim + self.n, inner.discrete)

    def param_exprs(self) -> list[Expr]:
        return self.base.param_exprs()

    def check_params(self, site: str) -> None:
        self.base.check_params(site)

    def label(self, name_of: Callable[[Expr], str]) -> str:
        return f"{self.base.label(name_of)}.to_event({self.n})"


class Expanded(Distribution):
    """Broadcasts ``base`` to a larger batch shape."""

    def __init__(self, base: Distribution, batch_shape: tuple[int, ...]):
        try:
            np.broadcast_shapes(base.batch_shape, batch_shape)
        except ValueError:
            raise ShapeError(f"cannot expand batch shape {base.batch_shape} to {batch_shape}") from None
        self.base, self.batch_shape = base, batch_shape
        self.event_shape, self.is_discrete = base.event_shape, base.is_discrete

    @property
    def support(self) -> C.Constraint | None:
        return self.base.support

    def param_exprs(self) -> list[Expr]:
        return self.base.param_exprs()

    def check_params(self, site: str) -> None:
        self.base.check_params(site)

    def label(self, name_of: Callable[[Expr], str]) -> str:
        return f"{self.base.label(name_of)}.expand({self.batch_shape})"


class ExternalDistribution(Distribution):
    """A distribution implemented outside the language (learned priors, custom code).

    Subclasses give shapes and support and build the native distribution for
    each backend in :meth:`lower`.
    """

    def param_exprs(self) -> list[Expr]:
        return []

    def lower(self, backend: str, device: str) -> Any:
        """The native distribution object for ``backend`` ("numpyro" or "pyro")."""
        raise NotImplementedError

    def label(self, name_of: Callable[[Expr], str]) -> str:
        return type(self).__name__
