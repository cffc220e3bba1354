"""Lowering: from the IR graph to a backend model function.

Pyro and NumPyro share one vocabulary of primitives (sample, deterministic,
factor, param, plate), so node lowering is written once against a
:class:`~ppl.backends.base.Backend` and dispatched on the site's role; what
differs per backend (arrays, ops, distribution classes) lives in the backend
object. Distribution specs are lowered by ``singledispatch`` on their type.
"""
from __future__ import annotations

import contextlib
import functools
from typing import Any, Callable

import networkx as nx

from .distributions.base import Distribution, Expanded, ExternalDistribution, FamilyDistribution, Independent
from .distributions.truncated import Truncated
from .errors import LoweringError
from .expr import evaluate
from .graph import sites
from .primitives import Site


def value_of(backend: Any, expr: Any, env: dict[str, Any]) -> Any:
    return evaluate(expr, env, backend.ops, backend.constant)


@functools.singledispatch
def lower_dist(spec: Distribution, backend: Any, env: dict[str, Any]) -> Any:
    raise LoweringError(f"backend '{backend.name}' cannot lower {type(spec).__name__}")


@lower_dist.register
def _(spec: FamilyDistribution, backend: Any, env: dict[str, Any]) -> Any:
    params = {k: value_of(backend, v, env) for k, v in spec.params.items()}
    return backend.family(spec.family.name, params, spec.statics)


@lower_dist.register
def _(spec: Independent, backend: Any, env: dict[str, Any]) -> Any:
    return lower_dist(spec.base, backend, env).to_event(spec.n)


@lower_dist.register
def _(spec: Expanded, backend: Any, env: dict[str, Any]) -> Any:
    return lower_dist(spec.base, backend, env).expand(spec.batch_shape)


@lower_dist.register
def _(spec: Truncated, backend: Any, env: dict[str, Any]) -> Any:
    base = lower_dist(spec.base, backend, env)
    low = None if spec.low is None else value_of(backend, spec.low, env)
    high = None if spec.high is None else value_of(backend, spec.high, env)
    return backend.truncated(base, low, high)


@lower_dist.register
def _(spec: ExternalDistribution, backend: Any, env: dict[str, Any]) -> Any:
    return spec.lower(backend.name, backend.device)


def _plates(site: Site, env: dict[Any, Any]) -> contextlib.ExitStack:
    # Plate objects are made once per model call and re-entered: Pyro records a
    # plate as a site, so making it twice would duplicate that site.
    stack = contextlib.ExitStack()
    for p in site.plates:
        stack.enter_context(env[("plate", p.name)])
    return stack


def _sample(backend: Any, site: Site, env: dict[str, Any], observe: bool) -> Any:
    fn = lower_dist(site.dist, backend, env)
    obs = None
    if observe and site.role == "observed":
        obs = env.get(("obs", site.name))
    with _plates(site, env):
        return backend.sample(site.name, fn, obs=obs)


def _deterministic(backend: Any, site: Site, env: dict[str, Any], observe: bool) -> Any:
    return backend.deterministic(site.name, value_of(backend, site.expr, env))


def _factor(backend: Any, site: Site, env: dict[str, Any], observe: bool) -> Any:
    value = value_of(backend, site.expr, env)
    backend.factor(site.name, value)
    return value


def _data(backend: Any, site: Site, env: dict[str, Any], observe: bool) -> Any:
    return env[("data", site.name)]


def _param(backend: Any, site: Site, env: dict[str, Any], observe: bool) -> Any:
    return backend.param(site.name, env[("data", site.name)], site.support)


# One registration per node type; the backend supplies the primitive it calls.
NODE_LOWERINGS: dict[str, Callable[..., Any]] = {
    "latent": _sample, "observed": _sample, "deterministic": _deterministic,
    "factor": _factor, "data": _data, "parameter": _param,
}


def make_model_fn(graph: nx.DiGraph, backend: Any) -> Callable[..., Any]:
    """Builds ``model_fn(data=None, observe=True)``, the backend model function.

    Args of the returned function:
        data: optional mapping of data-site name -> new array (e.g. new
            covariates for prediction); defaults to the traced values.
        observe: when False, observed sites are sampled (prior predictive).
    """
    ordered = sites(graph)
    plates = list(graph.graph["plates"].values())
    constants = {}
    for s in ordered:
        if s.role in ("data", "parameter"):
            constants[("data", s.name)] = backend.constant(s.value)
        if s.role == "observed":
            constants[("obs", s.name)] = backend.observed_array(s.value, s.dist)

    def model_fn(data: dict[str, Any] | None = None, observe: bool = True) -> dict[str, Any]:
        env: dict[Any, Any] = dict(constants)
        for p in plates:
            env[("plate", p.name)] = backend.plate(p.name, p.size, p.dim)
        for name, value in (data or {}).items():
            env[("data", name)] = backend.asarray(value)
        for s in ordered:
            if s.block is None:  # sites inside a ppl.markov block are set by the block's node
                env[s.name] = NODE_LOWERINGS[s.role](backend, s, env, observe)
        return {s.name: env[s.name] for s in ordered if s.role != "data"}

    model_fn.__name__ = graph.graph.get("name", "model")
    return model_fn
