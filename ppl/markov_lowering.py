"""Lowering of ``ppl.markov`` blocks: one step of the body, shared by every backend.

A block node lowers the whole scan; how a step's random sites are sampled or
scored differs per consumer (NumPyro's ``scan``, Pyro's loop, particle
filters), so :func:`run_step` evaluates the body once against a
:class:`StepHandler` that decides. The backend-specific scans live in
``ppl.backends.markov_numpyro`` and ``ppl.backends.markov_pyro``, imported
when a model with a block is lowered.
"""
from __future__ import annotations

import importlib
from typing import Any

from .lowering import NODE_LOWERINGS, lower_dist, value_of
from .primitives import Site

# backend name -> module with `lower_markov(backend, site, env, observe)`.
MARKOV_LOWERINGS = {"numpyro": "ppl.backends.markov_numpyro", "pyro": "ppl.backends.markov_pyro"}


class StepHandler:
    """Decides what a step does at each site; subclasses override the hooks.

    The default samples nothing: ``sample`` must be overridden.
    """

    def sample(self, site: Site, fn: Any, env: dict[Any, Any]) -> Any:
        """The value of random site ``site`` with (backend) distribution ``fn``."""
        raise NotImplementedError

    def deterministic(self, site: Site, value: Any) -> Any:
        return value

    def factor(self, site: Site, value: Any) -> Any:
        return value


def run_step(backend: Any, body: Any, env: dict[Any, Any], carry: Any, t: Any,
             handler: StepHandler) -> tuple[Any, dict[str, Any]]:
    """Runs one step of a block body.

    Args:
        backend: the backend object (ops, distribution classes).
        body: the block's :class:`~ppl.markov.MarkovBody`.
        env: values of outer sites (static parameters, data) by name.
        carry: the previous carry, shape ``body.carry_shape``.
        t: the time index (a backend integer scalar).
        handler: what to do at random, deterministic and factor sites.

    Returns:
        (next carry, site name -> value at this step for every body site).
    """
    local = dict(env)
    local[body.name], local[body.index] = carry, t
    for s in body.sites:
        if s.role == "latent":
            fn = lower_dist(s.dist, backend, local)
            if tuple(fn.batch_shape) != s.batch_shape:  # a plate broadcasts the batch
                fn = fn.expand(s.batch_shape)
            local[s.name] = handler.sample(s, fn, local)
        elif s.role == "deterministic":
            local[s.name] = handler.deterministic(s, value_of(backend, s.expr, local))
        elif s.role == "factor":
            local[s.name] = handler.factor(s, value_of(backend, s.expr, local))
    return value_of(backend, body.carry, local), {s.name: local[s.name] for s in body.sites}


def fixed_and_observed(body: Any, env: dict[Any, Any], observe: bool) -> tuple[dict, dict]:
    """Stacked (T, ...) values of intervened (``do``) and observed body sites."""
    fixed = {s.name: env[("data", s.name)] for s in body.sites if ("data", s.name) in env}
    obs = {s.name: env[("obs", s.name)] for s in body.sites
           if observe and ("obs", s.name) in env}
    return fixed, obs


def lower_markov(backend: Any, site: Site, env: dict[Any, Any], observe: bool) -> Any:
    """Node lowering of role "markov": runs the scan, sets every body site in ``env``."""
    module = importlib.import_module(MARKOV_LOWERINGS[backend.name])
    return module.lower_markov(backend, site, env, observe)


NODE_LOWERINGS["markov"] = lower_markov
