"""Truncation of univariate continuous distributions to an interval."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import constraints as C
from ..errors import ParameterError
from ..expr import Const, Expr, as_expr
from .base import Distribution, FamilyDistribution

# Families whose CDF and inverse CDF both backends provide.
TRUNCATABLE = ("Normal", "Cauchy", "Laplace")


class Truncated(Distribution):
    """``base`` restricted to ``[low, high]`` and renormalised (either bound optional)."""

    def __init__(self, base: Distribution, low: Any = None, high: Any = None):
        if not (isinstance(base, FamilyDistribution) and base.family.name in TRUNCATABLE):
            raise ParameterError(f"truncation supports {', '.join(TRUNCATABLE)}; got "
                                 f"{type(base).__name__ if not isinstance(base, FamilyDistribution) else base.family.name}")
        if low is None and high is None:
            raise ParameterError("truncate() needs low, high or both")
        self.base = base
        self.low = None if low is None else as_expr(low)
        self.high = None if high is None else as_expr(high)
        bounds = [b.shape for b in (self.low, self.high) if b is not None]
        self.batch_shape = tuple(np.broadcast_shapes(base.batch_shape, *bounds))
        self.event_shape = ()

    @property
    def support(self) -> C.Constraint | None:
        low = self._const(self.low, -np.inf)
        high = self._const(self.high, np.inf)
        if low is None or high is None:
            return None
        return C.interval(low, high)

    @staticmethod
    def _const(e: Expr | None, default: float) -> Any:
        if e is None:
            return default
        return e.value if isinstance(e, Const) else None

    def param_exprs(self) -> list[Expr]:
        return self.base.param_exprs() + [b for b in (self.low, self.high) if b is not None]

    def check_params(self, site: str) -> None:
        self.base.check_params(site)
        low, high = self._const(self.low, -np.inf), self._const(self.high, np.inf)
        if low is not None and high is not None and np.any(np.asarray(low) >= np.asarray(high)):
            raise ParameterError("truncation needs low < high", site=site)

    def label(self, name_of: Callable[[Expr], str]) -> str:
        lo = "None" if self.low is None else name_of(self.low)
        hi = "None" if self.high is None else name_of(self.high)
        return f"{self.base.label(name_of)}.truncate({lo}, {hi})"
