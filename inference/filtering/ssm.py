"""A model's state-space structure, read from its IR for particle filters.

The static part is evaluated with the compiled program's backend: JAX for
the NumPyro filters and PMMH, torch for the Pyro filters and PMMH.

A filterable model has one ``ppl.markov`` block, static sites outside it
(latents, data, parameters, deterministics), and observed sites inside the
block. :class:`StateSpace` holds what a filter needs: the block body, the
static latents in order, and functions evaluating the static part.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax

import jax.numpy as jnp
import networkx as nx
import numpy as np
from numpyro.distributions.transforms import biject_to

from ppl.errors import MethodError, ParameterError, ShapeError
from ppl.graph import sites
from ppl.lowering import lower_dist, value_of
from ppl.markov import MarkovBody, markov_blocks


class StateSpace(NamedTuple):
    """What a particle filter needs from a model with one markov block.

    Attributes:
        graph: the model's IR.
        backend: the program's backend object (ops and distributions).
        body: the block's traced step.
        static_names: static latent sites (outside the block, not its init) in order.
        static_shapes: their constrained shapes.
        observed: body site name -> observed data (T, ...) as backend arrays.
        fixed: body site name -> intervened (``do``) values (T, ...).
    """

    graph: nx.DiGraph
    backend: Any
    body: MarkovBody
    static_names: tuple[str, ...]
    static_shapes: tuple[tuple[int, ...], ...]
    observed: dict[str, Any]
    fixed: dict[str, Any]

    @property
    def length(self) -> int:
        return self.body.length


def state_space(program: Any, backends: tuple[str, ...] = ("numpyro",)) -> StateSpace:
    """Reads the state-space structure of a compiled program; MethodError if none.

    ``backends``: the program backends the caller can run (filters and PMMH
    run on both; backward smoothing is NumPyro only).
    """
    graph, name = program.graph, program.graph.graph.get("name")
    if program.backend_name not in backends:
        raise MethodError(f"this filter runs on backend(s) {', '.join(backends)} only, not "
                          f"'{program.backend_name}'; use backend='numpyro'")
    blocks = markov_blocks(graph)
    if len(blocks) != 1:
        raise MethodError(f"a particle filter needs a model with exactly one ppl.markov block; "
                          f"model '{name}' has {len(blocks)}")
    body = blocks[0]
    _check_outside(graph, body)
    inner = [s for s in sites(graph) if s.block == body.name]
    observed = {s.name: program.backend.asarray(s.value) for s in inner if s.role == "observed"}
    if not observed:
        raise MethodError(f"ppl.markov block '{body.name}' has no observed site; observe one "
                          "by name (model.observe(y=...)) before filtering")
    fixed = {s.name: program.backend.asarray(s.value) for s in inner if s.role == "data"}
    statics = [s for s in sites(graph, "latent") if s.block is None and s.name != body.init_site]
    return StateSpace(graph, program.backend, body, tuple(s.name for s in statics),
                      tuple(s.shape for s in statics), observed, fixed)


def _check_outside(graph: nx.DiGraph, body: MarkovBody) -> None:
    """Sites outside the block must not depend on the states (the filter cannot score them)."""
    after = nx.descendants(graph, body.name)
    for s in sites(graph):
        if s.name in after and s.block is None and s.role in ("latent", "observed", "factor"):
            raise MethodError(f"site depends on the states of ppl.markov '{body.name}', which a "
                              "particle filter cannot score; move it into the step", site=s.name)


def walk_statics(ssm: StateSpace, choose: Callable[[str, Any], tuple[Any, Any]]
                 ) -> tuple[dict[str, Any], Any]:
    """Evaluates the outer sites the block can read, in trace order.

    Args:
        ssm: the state space.
        choose: ``choose(name, fn) -> (value, extra log term)`` for each static
            latent with (NumPyro) distribution ``fn`` given earlier sites.

    Returns:
        (site name -> value, log density of static latents and outer observed
        and factor sites, plus the extra terms).
    """
    backend, env = ssm.backend, {}
    log_p = backend.asarray(0.0)
    after = nx.descendants(ssm.graph, ssm.body.name) | {ssm.body.name}
    for s in sites(ssm.graph):
        if s.block is not None or s.name in after or s.name == ssm.body.init_site:
            continue
        if s.role in ("data", "parameter"):
            env[s.name] = backend.asarray(s.value)
        elif s.role in ("latent", "observed"):
            fn = lower_dist(s.dist, backend, env)
            extra = 0.0
            if s.role == "latent":
                env[s.name], extra = choose(s.name, fn)
            else:
                env[s.name] = backend.asarray(s.value)
            log_p = log_p + fn.log_prob(env[s.name]).sum() + extra
        elif s.role == "deterministic":
            env[s.name] = value_of(backend, s.expr, env)
        elif s.role == "factor":
            log_p = log_p + value_of(backend, s.expr, env).sum()
    return env, log_p


def static_env(ssm: StateSpace, values: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """Outer values and the static log density at constrained static ``values``."""
    return walk_statics(ssm, lambda name, fn: (values[name], 0.0))


def unconstrained_shapes(ssm: StateSpace) -> dict[str, tuple[int, ...]]:
    """Unconstrained shape of each static latent (a prior draw mapped back)."""
    key, shapes = [jax.random.PRNGKey(0)], {}

    def draw(name: str, fn: Any) -> tuple[Any, Any]:
        key[0], sub = jax.random.split(key[0])
        value = fn.sample(sub)
        shapes[name] = tuple(jnp.shape(biject_to(fn.support).inv(value)))
        return value, 0.0

    walk_statics(ssm, draw)
    return shapes


def unconstrained_log_density(ssm: StateSpace, flat: Any, shapes: dict[str, tuple[int, ...]]
                              ) -> tuple[dict[str, Any], Any]:
    """Static values and their log density (with log-Jacobian) at a flat unconstrained point.

    Each site's transform comes from its support given earlier sites, so
    supports that depend on other statics (``Uniform(0, a)``) are handled.
    """
    offsets, start = {}, 0
    for n in ssm.static_names:
        offsets[n] = start
        start += int(np.prod(shapes[n], dtype=int))

    def choose(name: str, fn: Any) -> tuple[Any, Any]:
        shape = shapes[name]
        u = flat[offsets[name]:offsets[name] + int(np.prod(shape, dtype=int))].reshape(shape)
        transform = biject_to(fn.support)
        value = transform(u)
        return value, jnp.sum(transform.log_abs_det_jacobian(u, value))

    env, log_p = walk_statics(ssm, choose)
    return {n: env[n] for n in ssm.static_names}, log_p


def check_params(ssm: StateSpace, params: dict[str, Any]) -> dict[str, Any]:
    """Validates user-given static values (names and shapes) as backend arrays."""
    unknown = sorted(set(params) - set(ssm.static_names))
    if unknown:
        raise ParameterError(f"unknown static parameter(s) {', '.join(unknown)}; the model's "
                             f"static latents are: {', '.join(ssm.static_names) or 'none'}")
    missing = [n for n in ssm.static_names if n not in params]
    if missing:
        raise ParameterError(f"give a value for every static latent; missing: "
                             f"{', '.join(missing)}")
    out = {}
    for name, shape in zip(ssm.static_names, ssm.static_shapes):
        arr = np.asarray(params[name], dtype=float)
        if arr.shape != shape:
            raise ShapeError(f"value of shape {arr.shape} does not fit the site's shape {shape}",
                             site=name)
        out[name] = ssm.backend.asarray(arr)
    return out
