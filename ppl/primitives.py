"""The primitives a model calls: sample, deterministic, factor, param, plate.

They record sites on the active :class:`Tracer`. The tracer lives in a
``ContextVar`` scoped to one ``trace`` call, so nothing leaks between models
or threads.
"""
from __future__ import annotations

import contextlib
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from . import constraints as C
from .distributions.base import Distribution
from .errors import DuplicateSiteError, ModelError, ShapeError
from .expr import Const, Expr, SiteValue, as_expr

ROLES = ("latent", "observed", "deterministic", "factor", "data", "parameter", "markov")


@dataclass(frozen=True)
class Plate:
    """A named set of conditionally independent repetitions along batch ``dim``."""

    name: str
    size: int
    dim: int


@dataclass(frozen=True)
class Site:
    """One node of the IR.

    Attributes:
        name: unique site name.
        role: one of :data:`ROLES`.
        dist: distribution spec (latent/observed sites).
        expr: value expression (deterministic) or log-weight (factor).
        value: observed data, data values, or a parameter's initial value.
        plates: enclosing plates, outermost first.
        batch_shape: batch shape including plate dims.
        event_shape: event shape.
        support: support of the value (None when it depends on random values).
        order: position in trace order (a topological order).
        block: name of the enclosing ``ppl.markov`` block (None outside one);
            such a site's shapes carry a leading time dim.
        body: the traced step of a ``markov`` node (:class:`ppl.markov.MarkovBody`).
    """

    name: str
    role: str
    dist: Distribution | None = None
    expr: Expr | None = None
    value: np.ndarray | None = None
    plates: tuple[Plate, ...] = ()
    batch_shape: tuple[int, ...] = ()
    event_shape: tuple[int, ...] = ()
    support: C.Constraint | None = None
    order: int = 0
    block: str | None = None
    body: Any = None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.batch_shape + self.event_shape


@dataclass
class Tracer:
    """Collects sites while a model function runs."""

    sites: dict[str, Site] = field(default_factory=dict)
    refs: dict[str, SiteValue] = field(default_factory=dict)
    plates: list[Plate] = field(default_factory=list)

    def add(self, site: Site) -> SiteValue:
        if site.name in self.sites:
            raise DuplicateSiteError(
                f"the name is used twice (first as a {self.sites[site.name].role} site)",
                site=site.name)
        site = Site(**{**site.__dict__, "order": len(self.sites)})
        self.sites[site.name] = site
        ref = SiteValue(site.name, site.shape, _dtype_of(site))
        self.refs[site.name] = ref
        return ref


_ACTIVE: ContextVar[Tracer | None] = ContextVar("ppl_tracer", default=None)


def _dtype_of(site: Site) -> np.dtype:
    if site.expr is not None:
        return site.expr.dtype
    if site.role == "data" and site.value is not None:
        return site.value.dtype
    if site.dist is not None and site.dist.is_discrete:
        return np.dtype("int64")
    return np.dtype("float64")


@contextlib.contextmanager
def tracing(tracer: Tracer) -> Iterator[Tracer]:
    token = _ACTIVE.set(tracer)
    try:
        yield tracer
    finally:
        _ACTIVE.reset(token)


def _tracer(primitive: str) -> Tracer:
    tracer = _ACTIVE.get()
    if tracer is None:
        raise ModelError(f"ppl.{primitive} was called outside a model; decorate the "
                         "function with @ppl.model and call it to build a model")
    return tracer


def _check_name(name: Any, primitive: str) -> None:
    if not isinstance(name, str) or not name:
        raise ModelError(f"ppl.{primitive} needs a non-empty string name, got {name!r}")


def plate_batch_shape(name: str, batch: tuple[int, ...], plates: tuple[Plate, ...]) -> tuple[int, ...]:
    """Broadcasts a batch shape with the plates a site sits in; checks the sizes fit."""
    ndim = max([len(batch)] + [-p.dim for p in plates])
    shape = [1] * (ndim - len(batch)) + list(batch)
    for p in plates:
        have = shape[p.dim]
        if have not in (1, p.size):
            raise ShapeError(f"batch shape {batch} does not fit plate '{p.name}' of size {p.size} "
                             f"at dim {p.dim}", site=name)
        shape[p.dim] = p.size
    return tuple(shape)


def sample(name: str, dist: Distribution, obs: Any = None) -> Expr:
    """Declares a random variable ``name ~ dist``; observed when ``obs`` is given.

    Returns:
        A symbolic value of shape ``batch_shape + event_shape``.
    """
    tracer = _tracer("sample")
    _check_name(name, "sample")
    if not isinstance(dist, Distribution):
        raise ModelError(f"ppl.sample needs a ppl.dist distribution, got {type(dist).__name__}",
                         site=name)
    plates = tuple(tracer.plates)
    batch = plate_batch_shape(name, dist.batch_shape, plates)
    role, value = "latent", None
    if obs is not None:
        role, value = "observed", _observed_value(tracer, name, obs)
    return tracer.add(Site(name, role, dist=dist, value=value, plates=plates, batch_shape=batch,
                           event_shape=dist.event_shape, support=dist.support))


def _observed_value(tracer: Tracer, name: str, obs: Any) -> np.ndarray:
    if isinstance(obs, SiteValue) and tracer.sites.get(obs.name, None) is not None \
            and tracer.sites[obs.name].role == "data":
        data = tracer.sites[obs.name]
        if obs.name == name:  # `obs=y` for an argument named y: the site replaces the data
            del tracer.sites[name]
        return data.value
    if isinstance(obs, Expr):
        if isinstance(obs, Const):
            return obs.value
        raise ModelError("obs= must be data, not a value computed from random variables",
                         site=name)
    return np.asarray(obs)


def deterministic(name: str, value: Any) -> Expr:
    """Records a named function of other values (kept in the posterior)."""
    tracer = _tracer("deterministic")
    _check_name(name, "deterministic")
    expr = as_expr(value)
    return tracer.add(Site(name, "deterministic", expr=expr, plates=tuple(tracer.plates),
                           batch_shape=expr.shape))


def factor(name: str, log_weight: Any) -> None:
    """Adds ``log_weight`` (summed) to the model's log density."""
    tracer = _tracer("factor")
    _check_name(name, "factor")
    expr = as_expr(log_weight)
    tracer.add(Site(name, "factor", expr=expr, plates=tuple(tracer.plates),
                    batch_shape=expr.shape))


def param(name: str, init: Any, constraint: C.Constraint = C.real) -> Expr:
    """A learnable parameter (point-estimated by VI / ML-II, fixed by MCMC).

    Args:
        name: site name.
        init: initial value (array-like); its shape is the parameter's shape.
        constraint: e.g. ``ppl.constraints.positive``.
    """
    tracer = _tracer("param")
    _check_name(name, "param")
    value = np.asarray(init, dtype=float)
    return tracer.add(Site(name, "parameter", value=value, batch_shape=value.shape,
                           support=constraint))


def data(name: str, value: Any) -> Expr:
    """Declares a named data array (model arguments become data automatically)."""
    tracer = _tracer("data")
    _check_name(name, "data")
    arr = np.asarray(value)
    return tracer.add(Site(name, "data", value=arr, batch_shape=arr.shape))


@contextlib.contextmanager
def plate(name: str, size: int, dim: int | None = None) -> Iterator[Plate]:
    """Conditionally independent repetitions: sites inside get a batch dim of ``size``.

    Args:
        name: plate name; used as the dim name in ArviZ output.
        size: number of repetitions.
        dim: batch dim (negative); by default the next free dim to the left.
    """
    tracer = _tracer("plate")
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise ShapeError(f"plate '{name}' needs a positive integer size, got {size!r}")
    if any(p.name == name for p in tracer.plates):
        raise ModelError(f"plate '{name}' is nested inside itself")
    used = {p.dim for p in tracer.plates}
    dim = dim if dim is not None else next(d for d in range(-1, -100, -1) if d not in used)
    if dim in used or dim >= 0:
        raise ShapeError(f"plate '{name}': dim {dim} is taken or not negative")
    p = Plate(name, int(size), dim)
    tracer.plates.append(p)
    try:
        yield p
    finally:
        tracer.plates.pop()
