"""Bijections from each latent's support to R, so amortized draws respect the prior support.

With ``support="transform"`` training and sampling happen in an unconstrained
space: a bounded or positive parameter is mapped to R (logit / log) before
standardisation, and draws are mapped back, so no draw can leave the support.
With ``support="reject"`` (the default, as in sbi) the estimator works on the
raw parameters and draws outside the support are rejected (``contains``,
``rejection.py``). A support that depends on
other latents (e.g. ``Uniform(0, s)`` with a random ``s``) has no constant
bijection: such a site is modelled on R and its draws are flagged as
unchecked (``Bijection.kind == "unchecked"``). Supports of whole events
(simplex, correlation / covariance matrices) are refused with a ``MethodError``.

Each bijection is a frozen record of numpy functions: ``inverse`` (constrained
-> R), ``forward`` (R -> constrained) and ``log_det`` (log|d forward / du|,
elementwise), all on arrays of any shape.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ppl.errors import MethodError

def _sigmoid(u: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * u))


def _log_sigmoid(u: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -u)


@dataclass(frozen=True)
class Bijection:
    """R -> support, elementwise.

    Attributes:
        kind: ``"identity"``, ``"exp"``, ``"sigmoid"`` or ``"unchecked"`` (identity on a
            support that depends on other latents).
        low, high: bounds (``exp`` uses ``low``; ``sigmoid`` both), broadcastable to the site.
    """

    kind: str
    low: Any = 0.0
    high: Any = 1.0

    def forward(self, u: np.ndarray) -> np.ndarray:
        return _FORWARD[self.kind](self, u)

    def inverse(self, x: np.ndarray) -> np.ndarray:
        return _INVERSE[self.kind](self, x)

    def log_det(self, u: np.ndarray) -> np.ndarray:
        """log|d forward(u) / du|, elementwise, same shape as u."""
        return _LOG_DET[self.kind](self, u)

    def contains(self, x: np.ndarray) -> np.ndarray:
        """Whether each element of x lies in the (open) support; same shape as x."""
        return _CONTAINS[self.kind](self, np.asarray(x, dtype=np.float64))

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "low": np.asarray(self.low).tolist(), "high": np.asarray(self.high).tolist()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Bijection":
        return cls(data["kind"], np.asarray(data["low"], dtype=np.float64), np.asarray(data["high"], dtype=np.float64))


def _width(b: Bijection) -> np.ndarray:
    return np.asarray(b.high, dtype=np.float64) - np.asarray(b.low, dtype=np.float64)


_FORWARD: dict[str, Callable] = {
    "identity": lambda b, u: u,
    "unchecked": lambda b, u: u,
    "exp": lambda b, u: b.low + np.exp(u),
    "sigmoid": lambda b, u: b.low + _width(b) * _sigmoid(u),
}
_INVERSE: dict[str, Callable] = {
    "identity": lambda b, x: x,
    "unchecked": lambda b, x: x,
    "exp": lambda b, x: np.log(np.maximum(x - b.low, 1e-300)),
    # Clipping keeps draws that sit on a closed boundary (e.g. float32 rounding) finite.
    "sigmoid": lambda b, x: _logit(np.clip((x - b.low) / _width(b), 1e-12, 1.0 - 1e-12)),
}
_LOG_DET: dict[str, Callable] = {
    "identity": lambda b, u: np.zeros_like(u),
    "unchecked": lambda b, u: np.zeros_like(u),
    "exp": lambda b, u: u,
    "sigmoid": lambda b, u: np.log(_width(b)) + _log_sigmoid(u) + _log_sigmoid(-u),
}


_CONTAINS: dict[str, Callable] = {
    "identity": lambda b, x: np.isfinite(x),
    "unchecked": lambda b, x: np.isfinite(x),
    "exp": lambda b, x: x > b.low,
    "sigmoid": lambda b, x: (x > b.low) & (x < b.high),
}
IDENTITY = Bijection("identity")


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)


def _bounds(args: tuple, shape: tuple[int, ...]) -> list[np.ndarray] | None:
    """Constant bounds broadcast to the site shape, or None if they are not constants."""
    try:
        return [np.broadcast_to(np.asarray(a, dtype=np.float64), shape).copy() for a in args]
    except (TypeError, ValueError):
        return None


def bijection_for(support: Any, shape: tuple[int, ...], site: str) -> Bijection:
    """The bijection for a site's support (a ``ppl.constraints.Constraint`` or None when random).

    Raises:
        MethodError: an event-level support (simplex, matrices) that amortize cannot map to R^d.
    """
    if support is None:
        return Bijection("unchecked")
    key = support.backend_key
    if key in ("real", "real_vector"):
        return Bijection("identity")
    if key in ("positive", "nonnegative", "positive_vector"):
        return Bijection("exp", np.zeros(shape))
    if key in ("unit_interval", "open_unit_interval"):
        return Bijection("sigmoid", np.zeros(shape), np.ones(shape))
    bounds = _bounds(support.args, shape)
    if key == "greater_than" and bounds is not None:
        return Bijection("exp", bounds[0])
    if key == "interval" and bounds is not None:
        return Bijection("sigmoid", bounds[0], bounds[1])
    raise MethodError(f"has support {support.name}, which amortized posteriors cannot represent yet "
                      "(supported: real, positive, bounded intervals); use MCMC or SMC", site=site)
