"""Supports and parameter constraints, checked on numpy values before any sampling.

The backends carry their own constraint objects (and the bijections to an
unconstrained space); these are the backend-neutral descriptions the
compiler uses to validate observed data and constant parameters.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Constraint:
    """A set of allowed values.

    Attributes:
        name: readable name, e.g. ``"positive"`` or ``"interval(0, 1)"``.
        event_dim: number of trailing dims checked jointly (1 for simplex).
        discrete: whether values are integers or booleans.
        kind: the constraint's name in the backends' ``constraints`` modules
            (defaults to ``name``); ``args`` are its arguments, if any.
    """

    name: str
    check_fn: Callable[[np.ndarray], np.ndarray]
    event_dim: int = 0
    discrete: bool = False
    kind: str = ""
    args: tuple = ()

    @property
    def backend_key(self) -> str:
        return self.kind or self.name

    def check(self, value: np.ndarray) -> np.ndarray:
        """Boolean array over the batch: whether each value is allowed."""
        with np.errstate(all="ignore"):
            return np.asarray(self.check_fn(np.asarray(value)))

    def __repr__(self) -> str:
        return self.name


def _is_int(v: np.ndarray) -> np.ndarray:
    return np.isfinite(v) & (v == np.round(v))


real = Constraint("real", np.isfinite)
positive = Constraint("positive", lambda v: np.isfinite(v) & (v > 0))
nonnegative = Constraint("nonnegative", lambda v: np.isfinite(v) & (v >= 0))
unit_interval = Constraint("unit_interval", lambda v: (v >= 0) & (v <= 1))
open_unit_interval = Constraint("open_unit_interval", lambda v: (v > 0) & (v < 1))
boolean = Constraint("boolean", lambda v: (v == 0) | (v == 1), discrete=True)
nonnegative_integer = Constraint(
    "nonnegative_integer", lambda v: _is_int(v) & (v >= 0), discrete=True)
real_vector = Constraint("real_vector", lambda v: np.isfinite(v).all(-1), event_dim=1)
positive_vector = Constraint(
    "positive_vector", lambda v: (np.isfinite(v) & (v > 0)).all(-1), event_dim=1)


def interval(low: float | np.ndarray, high: float | np.ndarray) -> Constraint:
    """Values in ``[low, high]`` (the boundary has probability zero)."""
    return Constraint(f"interval({_fmt(low)}, {_fmt(high)})",
                      lambda v: (v >= low) & (v <= high), kind="interval", args=(low, high))


def greater_than(low: float | np.ndarray) -> Constraint:
    """Values above ``low``."""
    return Constraint(f"greater_than({_fmt(low)})", lambda v: np.isfinite(v) & (v > low),
                      kind="greater_than", args=(low,))


def integer_interval(low: float | np.ndarray, high: float | np.ndarray) -> Constraint:
    """Integers in ``[low, high]``."""
    return Constraint(f"integer_interval({_fmt(low)}, {_fmt(high)})",
                      lambda v: _is_int(v) & (v >= low) & (v <= high), discrete=True,
                      kind="integer_interval", args=(low, high))


def _simplex_check(v: np.ndarray) -> np.ndarray:
    return (v >= 0).all(-1) & (np.abs(v.sum(-1) - 1) < 1e-6)


simplex = Constraint("simplex", _simplex_check, event_dim=1)


def _corr_cholesky_check(v: np.ndarray) -> np.ndarray:
    lower = np.allclose(np.triu(v, 1), 0)
    unit_rows = np.abs(np.linalg.norm(v, axis=-1) - 1) < 1e-6
    return unit_rows.all(-1) & lower & (np.diagonal(v, axis1=-2, axis2=-1) > 0).all(-1)


corr_cholesky = Constraint("corr_cholesky", _corr_cholesky_check, event_dim=2)


def _pd_check(v: np.ndarray) -> np.ndarray:
    sym = np.abs(v - np.swapaxes(v, -1, -2)).max(axis=(-1, -2)) < 1e-6
    return sym & (np.linalg.eigvalsh(v).min(-1) > 0)


positive_definite = Constraint("positive_definite", _pd_check, event_dim=2)


def _lower_cholesky_check(v: np.ndarray) -> np.ndarray:
    strictly_upper_zero = (np.triu(v, 1) == 0).all(axis=(-1, -2))
    return strictly_upper_zero & (np.diagonal(v, axis1=-2, axis2=-1) > 0).all(-1)


lower_cholesky = Constraint("lower_cholesky", _lower_cholesky_check, event_dim=2)


def _fmt(x: float | np.ndarray) -> str:
    arr = np.asarray(x)
    return f"{float(arr):g}" if arr.ndim == 0 else f"array{arr.shape}"
