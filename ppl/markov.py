"""``ppl.markov``: a state-space (Markov) block, traced once and scanned over time.

A step function ``step(carry, t) -> carry`` is traced once with a symbolic
carry and time index into a :class:`MarkovBody`, stored on one IR node of
role ``"markov"`` (named after the block). Each site the step records also
appears in the outer graph, with a leading time dim of length ``T`` and its
``block`` attribute set, so ``observe`` by name, validation, posterior draws
and ArviZ output treat it like any other site of shape ``(T, ...)``. The
block's node lowers the whole scan (:mod:`ppl.markov_lowering`); the inner
sites are not lowered on their own.

Example::

    @ppl.model
    def lgssm(T):
        q = ppl.sample("q", dist.HalfNormal(1.0))
        r = ppl.sample("r", dist.HalfNormal(1.0))

        def step(x_prev, t):
            x = ppl.sample("x", dist.Normal(0.9 * x_prev, q))
            ppl.sample("y", dist.Normal(x, r))
            return x

        return ppl.markov("time", T, step, init=dist.Normal(0.0, 1.0))

    m = lgssm(100).observe(y=y_obs)       # y_obs: (100,)
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple

import numpy as np

from .distributions.base import Distribution
from .errors import ModelError, ShapeError
from .expr import Expr, SiteValue, as_expr
from .primitives import Site, Tracer, _check_name, _tracer, sample, tracing


class MarkovBody(NamedTuple):
    """The traced step of a ``ppl.markov`` block.

    Attributes:
        name: block name; inside the body, the carry is the site value of this name.
        length: number of time steps T.
        sites: the step's sites in trace order, with per-step shapes.
        carry: the step's returned expression (the next carry), same shape as the carry.
        index: name of the symbolic time index (an int64 scalar inside the body).
        init: expression of the initial carry (a site value of ``{name}_init`` when
            ``init`` was a distribution).
        init_site: name of the outer latent site holding the initial carry, or None.
    """

    name: str
    length: int
    sites: tuple[Site, ...]
    carry: Expr
    index: str
    init: Expr
    init_site: str | None

    @property
    def carry_shape(self) -> tuple[int, ...]:
        return self.carry.shape


def index_name(name: str) -> str:
    """Name of a block's symbolic time index (a name users cannot give a site by accident)."""
    return f"{name}:t"


def markov(name: str, length: int, step: Callable[[Expr, Expr], Any], init: Any) -> Expr:
    """Declares a Markov chain of ``length`` steps: ``carry_t = step(carry_{t-1}, t)``.

    Args:
        name: block name; the returned states and ArviZ's time dim use it.
        length: T, the number of steps (a positive int).
        step: ``step(carry, t) -> next carry``; may call ``ppl.sample``,
            ``deterministic``, ``factor`` and ``plate``. ``t`` is a symbolic
            int64 scalar (usable to index data).
        init: the carry before step 0: a distribution (becomes the latent site
            ``{name}_init``) or a value.

    Returns:
        The stacked carries, a symbolic value of shape ``(T, *carry_shape)``.
    """
    tracer = _tracer("markov")
    _check_name(name, "markov")
    if not isinstance(length, (int, np.integer)) or length < 1:
        raise ShapeError(f"ppl.markov '{name}' needs a positive integer length, got {length!r}")
    if tracer.plates:
        raise ModelError(f"ppl.markov '{name}' cannot sit inside a plate; put plates inside "
                         "the step function instead")
    init_site = None
    if isinstance(init, Distribution):
        init_site = f"{name}_init"
        init = sample(init_site, init)
    init_expr = as_expr(init)
    body = _trace_step(name, int(length), step, init_expr, init_site)
    ref = tracer.add(Site(name, "markov", expr=init_expr,
                          batch_shape=(int(length),) + init_expr.shape, body=body))
    for s in body.sites:
        tracer.add(dataclasses.replace(s, batch_shape=(int(length),) + s.batch_shape,
                                       block=name))
    return ref


def _trace_step(name: str, length: int, step: Callable[..., Any], init: Expr,
                init_site: str | None) -> MarkovBody:
    carry_in = SiteValue(name, init.shape, init.dtype if init.dtype.kind == "f" else np.float64)
    t = SiteValue(index_name(name), (), np.dtype("int64"))
    sub = Tracer()
    with tracing(sub):
        out = step(carry_in, t)
    if out is None:
        raise ModelError(f"the step function of ppl.markov '{name}' must return the next "
                         "carry (e.g. the new state)")
    carry_out = as_expr(out)
    if carry_out.shape != init.shape:
        raise ShapeError(f"the step function of ppl.markov '{name}' returns shape "
                         f"{carry_out.shape} but the carry (init) has shape {init.shape}")
    sites = tuple(sorted(sub.sites.values(), key=lambda s: s.order))
    for s in sites:
        if s.role in ("data", "parameter", "markov"):
            raise ModelError(f"ppl.{'param' if s.role == 'parameter' else s.role} cannot be "
                             f"called inside the step of ppl.markov '{name}'; declare it "
                             "outside the step", site=s.name)
        if s.role == "observed":
            raise ModelError(f"obs= inside the step of ppl.markov '{name}' is not supported; "
                             f"observe the stacked (T, ...) data by name with "
                             f"model.observe({s.name}=...)", site=s.name)
    return MarkovBody(name, length, sites, carry_out, t.name, init, init_site)


def markov_blocks(graph: Any) -> list[MarkovBody]:
    """The bodies of every markov block of a graph, in trace order."""
    nodes = sorted((d["order"], d["body"]) for _, d in graph.nodes(data=True)
                   if d["role"] == "markov")
    return [b for _, b in nodes]


from . import markov_lowering  # noqa: E402,F401 - registers the "markov" node lowering
