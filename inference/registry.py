"""The registry of inference methods and what each can handle.

A method declares its capabilities once; ``infer`` checks a model against
them before running anything, and ``method="auto"`` picks from them.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

import networkx as nx

from ppl.errors import MethodError
from ppl.passes import discrete_latents, latent_sites


@dataclass(frozen=True)
class Capabilities:
    """What a method can handle.

    Attributes:
        backends: backends it runs on.
        discrete_latents: whether latent sites may be discrete.
        needs_gradients: whether it differentiates the log density.
        needs_latents: whether the model must have at least one latent site.
        needs_diffusion_prior: whether a latent must have a prior with a denoiser
            (``models.DiffusionPrior`` or ``GaussianMixturePrior``).
        needs_linear_gaussian: whether the likelihood must be one Gaussian
            observation of a linear operator of that latent (``ppl.structure``).
    """

    backends: tuple[str, ...] = ("numpyro", "pyro")
    discrete_latents: bool = False
    needs_gradients: bool = True
    needs_latents: bool = True
    needs_diffusion_prior: bool = False
    needs_linear_gaussian: bool = False


@dataclass(frozen=True)
class MethodSpec:
    """A registered method: its runner, config class and capabilities.

    ``runner(program, config) -> Posterior``.
    """

    name: str
    runner: Callable[[Any, Any], Any]
    config_cls: type
    capabilities: Capabilities
    summary: str = ""


NO_DIFFUSION_PRIOR = "the model has no latent site with a diffusion prior"

METHODS: dict[str, MethodSpec] = {}
# Order in which method="auto" tries methods (first that can handle the model wins).
AUTO_ORDER: list[str] = []


def register(spec: MethodSpec, auto_rank: int | None = None) -> MethodSpec:
    """Adds a method; ``auto_rank`` places it in the ``auto`` preference order."""
    METHODS[spec.name] = spec
    if auto_rank is not None:
        AUTO_ORDER.insert(min(auto_rank, len(AUTO_ORDER)), spec.name)
    return spec


def why_not(spec: MethodSpec, graph: nx.DiGraph, backend: str) -> str | None:
    """Why ``spec`` cannot handle the model on ``backend`` (None when it can)."""
    caps = spec.capabilities
    if backend not in caps.backends:
        return f"it does not run on backend '{backend}' (only {', '.join(caps.backends)})"
    if caps.needs_latents and not latent_sites(graph):
        return "the model has no latent sites (use ppl.predictive to simulate it)"
    discrete = discrete_latents(graph)
    if discrete and not caps.discrete_latents:
        return f"latent site '{discrete[0]}' is discrete and {spec.name} needs gradients"
    return _diffusion_reason(caps, graph)


def ode_density_latents(graph: nx.DiGraph) -> list[str]:
    """Latents whose prior is a trained diffusion model (density only via the costly ODE).

    Duck-typed (a ``denoise`` method but no exact ``diffused_denoise``), so
    this module imports no model code.
    """
    from ppl.structure import denoiser_prior

    priors = {s.name: denoiser_prior(s.dist) for s in latent_sites(graph)}
    return [n for n, p in priors.items()
            if hasattr(p, "denoise") and not hasattr(p, "diffused_denoise")]


def _diffusion_reason(caps: Capabilities, graph: nx.DiGraph) -> str | None:
    # A trained DiffusionPrior's log density is a 64-step probability-flow ODE:
    # not differentiable on torch and far too costly inside NUTS/HMC/VI on JAX,
    # so gradient methods refuse it; GMM priors have exact densities and pass.
    learned = ode_density_latents(graph)
    if learned and caps.needs_gradients and not caps.needs_diffusion_prior:
        return (f"latent site '{learned[0]}' has a trained diffusion prior, whose density "
                "(a probability-flow ODE) gradient methods cannot use")
    if not caps.needs_diffusion_prior:
        return None
    from ppl.structure import diffusion_prior_sites

    found = diffusion_prior_sites(graph)
    if not found:
        return NO_DIFFUSION_PRIOR + " (a models.DiffusionPrior or GaussianMixturePrior as its distribution)"
    if caps.needs_linear_gaussian and whole_linear_observation(graph, found[0]) is None:
        return (f"the likelihood of '{found[0]}' is not a single Gaussian observation of a "
                "linear operator of it (ppl.linear_operators)")
    return None


def whole_linear_observation(graph: nx.DiGraph, latent: str) -> Any:
    """The linear-Gaussian observation of ``latent`` when it is the model's whole likelihood."""
    from ppl.structure import linear_gaussian_observations

    obs = [o for o in linear_gaussian_observations(graph) if o.latent == latent]
    terms = {n for n, d in graph.nodes(data=True) if d.get("role") in ("observed", "factor")}
    return obs[0] if len(obs) == 1 and terms == {obs[0].observed} else None


def check_method(name: str, graph: nx.DiGraph, backend: str) -> MethodSpec:
    """Returns the method spec, or raises MethodError saying which methods can run."""
    if name not in METHODS:
        raise MethodError(f"unknown method '{name}'; registered: {', '.join(sorted(METHODS))}")
    spec = METHODS[name]
    reason = why_not(spec, graph, backend)
    if reason is None:
        return spec
    able = [m for m in sorted(METHODS) if why_not(METHODS[m], graph, backend) is None]
    hint = f"methods that can: {', '.join(able)}" if able else (
        "no registered method can; marginalize discrete latents out or observe them")
    site = discrete_latents(graph)[0] if discrete_latents(graph) else None
    raise MethodError(f"method '{name}' cannot handle model '{graph.graph.get('name')}': "
                      f"{reason}; {hint}", site=site)


def choose_auto(graph: nx.DiGraph, backend: str) -> tuple[str, str]:
    """The method ``auto`` picks, and a sentence saying why."""
    for name in AUTO_ORDER:
        if why_not(METHODS[name], graph, backend) is None:
            # Diffusion samplers come first in AUTO_ORDER; naming them on every
            # ordinary model would be noise, so only say why when it applies.
            earlier = AUTO_ORDER[: AUTO_ORDER.index(name)]
            skipped = {m: why_not(METHODS[m], graph, backend) for m in earlier}
            skipped = {m: r for m, r in skipped.items() if not r.startswith(NO_DIFFUSION_PRIOR)}
            why = f"chose '{name}': {METHODS[name].summary}"
            if skipped:
                why += " (skipped " + "; ".join(f"{m}: {r}" for m, r in skipped.items()) + ")"
            return name, why
    reasons = "; ".join(f"{m}: {why_not(METHODS[m], graph, backend)}" for m in AUTO_ORDER)
    raise MethodError(f"no registered method can handle this model ({reasons})")


def make_config(spec: MethodSpec, options: dict[str, Any]) -> Any:
    """Builds the method's frozen config, rejecting unknown options by name."""
    fields = {f.name for f in dataclasses.fields(spec.config_cls)}
    unknown = sorted(set(options) - fields)
    if unknown:
        raise MethodError(f"method '{spec.name}' has no option(s) {', '.join(unknown)}; "
                          f"its options are: {', '.join(sorted(fields))}")
    return spec.config_cls(**options)
