"""Differentiable, batched log-likelihoods of a compiled program's observations.

``make_log_lik(program)`` returns ``values -> (n,)``: given constrained values
(n, *shape) of every latent, the sum of the log densities of the observed and
factor sites. Only those sites' densities are evaluated: the latents' own
(e.g. a diffusion prior's probability-flow ODE) never are. JAX vmaps a
traced model; torch reuses SMC's ``batched`` (``torch.func.vmap``, a loop as
fallback); gradients flow back to the values on both.
"""
from __future__ import annotations

from typing import Any, Callable

from ppl.graph import sites

LogLik = Callable[[dict[str, Any]], Any]


def likelihood_names(program: Any) -> frozenset[str]:
    return frozenset(s.name for s in sites(program.graph, "observed", "factor"))


def _numpyro(program: Any) -> LogLik:
    import jax
    import jax.numpy as jnp
    from numpyro import handlers

    names = likelihood_names(program)

    def one(values: dict[str, Any]) -> Any:
        tr = handlers.trace(handlers.substitute(program.model_fn, data=values)).get_trace()
        total = jnp.zeros(())
        for name in names:
            site = tr[name]
            lp = jnp.sum(site["fn"].log_prob(site["value"]))
            total = total + (lp if site.get("scale") is None else site["scale"] * lp)
        return total

    return jax.vmap(one)


def _pyro(program: Any) -> LogLik:
    import torch
    from pyro import poutine

    from ..smc.target_torch import batched

    names = likelihood_names(program)

    def one(values: dict[str, Any]) -> Any:
        tr = poutine.trace(poutine.condition(program.model_fn, data=values)).get_trace()
        total = torch.zeros(())
        for name in names:
            node = tr.nodes[name]
            total = total + node["scale"] * node["fn"].log_prob(node["value"]).sum()
        return total

    return batched(one)


BUILDERS: dict[str, Callable[[Any], LogLik]] = {"numpyro": _numpyro, "pyro": _pyro}


def make_log_lik(program: Any) -> LogLik:
    """site name -> constrained values (n, *shape) of every latent -> log-likelihood (n,)."""
    return BUILDERS[program.backend_name](program)
