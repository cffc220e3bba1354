"""The batched target SMC and importance sampling work on, and its flat layout.

Particles live in the unconstrained space, flattened to vectors: positions
are (N, D). A target splits the log density into the prior part (latent
sites plus the log-Jacobian of the constraining map) and the likelihood part
(observed and factor sites), because tempering scales only the latter.
"""
from __future__ import annotations

import importlib
import math
from typing import Any, Callable, NamedTuple

from ppl.graph import sites


class Layout(NamedTuple):
    """Where each latent sits in a flat unconstrained vector.

    Attributes:
        names: latent site names in trace order.
        shapes: unconstrained shape of each site.
        offsets: start of each site in the flat vector.
        dim: D, the flat length.
    """

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    offsets: tuple[int, ...]
    dim: int

    def unflatten(self, flat: Any) -> dict[str, Any]:
        """One flat vector (D,) -> site name -> array of the site's unconstrained shape."""
        return {n: flat[o:o + math.prod(s)].reshape(s)
                for n, s, o in zip(self.names, self.shapes, self.offsets)}


def make_layout(program: Any, shapes: dict[str, tuple[int, ...]] | None = None) -> Layout:
    """The flat layout of a program's latents (``shapes``: their unconstrained shapes, when
    the caller can get them more cheaply than ``program.unconstrained_shapes()``)."""
    shapes = program.unconstrained_shapes() if shapes is None else shapes
    names = tuple(program.latent_names)
    sizes = [math.prod(shapes[n]) for n in names]
    offsets = tuple(sum(sizes[:i]) for i in range(len(sizes)))
    return Layout(names, tuple(tuple(shapes[n]) for n in names), offsets, sum(sizes))


def likelihood_names(program: Any) -> frozenset[str]:
    """Sites whose log density is tempered: observed and factor sites."""
    return frozenset(s.name for s in sites(program.graph, "observed", "factor"))


class Target(NamedTuple):
    """A model's log density on batches of flat unconstrained particles.

    Attributes:
        layout: the flat layout.
        log_parts: (N, D) -> (log_prior (N,), log_lik (N,)).
        log_parts_and_grads: (N, D) -> (log_prior, log_lik, grad_prior (N, D),
            grad_lik (N, D)).
        sample_prior: (seed, n) -> (n, D) prior draws, unconstrained.
        to_constrained: (N, D) -> site name -> numpy (N, *site_shape).
        log_lik_constrained: site name -> (N, *site_shape) constrained values ->
            log_lik (N,); works for discrete latents too.
        notes: how the target was vectorized, when that matters to a user.
    """

    layout: Layout
    log_parts: Callable[[Any], tuple[Any, Any]]
    log_parts_and_grads: Callable[[Any], tuple[Any, Any, Any, Any]]
    sample_prior: Callable[[int, int], Any]
    to_constrained: Callable[[Any], dict[str, Any]]
    log_lik_constrained: Callable[[dict[str, Any]], Any]
    notes: tuple[str, ...] = ()


# backend -> module with `make_target(program)`; imported on first use.
TARGETS = {"numpyro": "inference.smc.target_jax", "pyro": "inference.smc.target_torch"}


def make_target(program: Any) -> Target:
    """The batched target of a compiled program."""
    return importlib.import_module(TARGETS[program.backend_name]).make_target(program)
