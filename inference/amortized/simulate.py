"""Which sites an amortized posterior conditions on, and simulations of (theta, x).

``resolve`` checks the user's choice of observed sites and parameters against
the model's graph (before anything is simulated or trained); ``simulate``
draws (theta, x) pairs from the prior predictive of the compiled program in
fixed-size batches (vectorized on NumPyro, a loop over draws on Pyro). A user
simulator written with ``ppl.numeric`` is part of the program, so it counts as
the likelihood; latents the posterior does not target (simulator noise) are
simulated and marginalised.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

import ppl
from ppl.errors import MethodError, ModelError, ObservationError
from ppl.graph import site_of, sites

from .layout import ThetaLayout, XLayout
from .support import bijection_for

OBSERVABLE_ROLES = ("latent", "observed", "deterministic")
SIMULATION_BATCH = 10_000


@dataclass(frozen=True)
class Problem:
    """A model split into the parameters to infer and the observations to condition on.

    Attributes:
        model: the model without observations (what is simulated).
        observed: observed site names (x).
        params: latent site names (theta).
    """

    model: ppl.Model
    observed: tuple[str, ...]
    params: tuple[str, ...]


def _names(value: str | Sequence[str] | None) -> tuple[str, ...] | None:
    return None if value is None else (value,) if isinstance(value, str) else tuple(value)


def _check_observed(model: ppl.Model, observed: tuple[str, ...]) -> None:
    graph = model.graph
    for name in observed:
        if name not in graph:
            raise ObservationError(f"is not a site of model '{model.name}' (sites: {', '.join(graph.nodes)})",
                                   site=name)
        role = graph.nodes[name]["role"]
        if role not in OBSERVABLE_ROLES:
            raise ObservationError(f"is a {role} site; amortize conditions on sampled or deterministic sites",
                                   site=name)
        if model.observations and role == "latent":
            raise ObservationError(f"is a latent of model '{model.name}', whose observed sites are "
                                   f"{sorted(model.observations)}; pass observed= one of those", site=name)


def resolve(model: Any, observed: str | Sequence[str] | None, params: str | Sequence[str] | None) -> Problem:
    """Checks and fixes the sites; raises a ``PPLError`` naming the site on bad input."""
    if not isinstance(model, ppl.Model):
        raise ModelError(f"ppl.amortize needs a ppl.Model, got {type(model).__name__}; call the "
                         "@ppl.model function with its data first")
    names = _names(observed) or tuple(model.observations)
    if not names:
        raise ObservationError("name the observed sites: ppl.amortize(model, observed='x', ...)")
    _check_observed(model, names)
    free = model.unobserved()
    latents = {s.name: s for s in sites(free.graph, "latent") if s.name not in names}
    chosen = _names(params) or tuple(latents)
    for name in chosen:
        if name not in latents:
            raise ModelError(f"is not a latent site that could be inferred (latents: {sorted(latents)})", site=name)
        if latents[name].dist is not None and latents[name].dist.is_discrete:
            raise MethodError("has a discrete distribution; amortized posteriors (NPE / NPSE) need "
                              "continuous parameters - use method='smc' or marginalise it", site=name)
        bijection_for(elementwise_support(latents[name]), latents[name].shape, name)  # refuses event supports now
    if not chosen:
        raise ModelError(f"model '{model.name}' has no latent parameters besides the observed sites")
    return Problem(free, names, chosen)


def simulate(problem: Problem, num_simulations: int, seed: int, backend: str) -> tuple[dict, dict, int]:
    """Prior-predictive draws of theta and x.

    Returns:
        (theta: name -> (n, *shape), x: name -> (n, *shape), number of
        simulations dropped because they were not finite). Every row is finite.
    """
    program = ppl.compile(problem.model, backend)
    wanted = problem.params + problem.observed
    batches, done, index = [], 0, 0
    while done < num_simulations:
        size = min(SIMULATION_BATCH, num_simulations)
        draws = program.sample_prior(size, seed=seed + 7919 * index)
        batches.append({k: np.asarray(draws[k], dtype=np.float64) for k in wanted})
        done, index = done + size, index + 1
    joined = {k: np.concatenate([b[k] for b in batches])[:num_simulations] for k in wanted}
    finite = np.ones(num_simulations, dtype=bool)
    for value in joined.values():
        finite &= np.isfinite(value.reshape(num_simulations, -1)).all(axis=1)
    if finite.sum() < 2:
        raise ObservationError(f"the simulator returned NaN or inf in {num_simulations - finite.sum()} of "
                               f"{num_simulations} simulations", site=problem.observed[0])
    joined = {k: v[finite] for k, v in joined.items()}
    return ({k: joined[k] for k in problem.params}, {k: joined[k] for k in problem.observed},
            int(num_simulations - finite.sum()))


def layouts(problem: Problem, theta: dict[str, np.ndarray], x: dict[str, np.ndarray],
            support: str = "transform") -> tuple[ThetaLayout, XLayout]:
    """Flat layouts of the simulated theta (with support bijections and mode ``support``) and x."""
    graph = problem.model.graph
    shapes = tuple(theta[k].shape[1:] for k in problem.params)
    supports = [elementwise_support(site_of(graph, k)) for k in problem.params]
    bijections = tuple(bijection_for(s, shape, k) for s, shape, k in zip(supports, shapes, problem.params))
    theta_layout = ThetaLayout(problem.params, shapes, bijections, support)
    return theta_layout, XLayout(problem.observed, tuple(x[k].shape[1:] for k in problem.observed))



def elementwise_support(site: Any) -> Any:
    """The support of each element: ``Normal(...).to_event(1)`` has the support of ``Normal(...)``."""
    support, spec = site.support, site.dist
    while support is not None and "^" in support.name and hasattr(spec, "base"):
        spec = spec.base
        support = spec.support
    return support
