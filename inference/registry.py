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
    """

    backends: tuple[str, ...] = ("numpyro", "pyro")
    discrete_latents: bool = False
    needs_gradients: bool = True
    needs_latents: bool = True


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
    return None


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
            skipped = [m for m in AUTO_ORDER[: AUTO_ORDER.index(name)]]
            why = f"chose '{name}': {METHODS[name].summary}"
            if skipped:
                why += f" (skipped {', '.join(skipped)}: cannot handle this model)"
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
