"""Models: a traced function with its data, observations and interventions.

``@ppl.model`` turns a function into a factory; calling it with data gives a
:class:`Model`. A model is immutable: ``observe`` and ``do`` return new models
whose graphs are rewrites of the traced one.
"""
from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Mapping

import networkx as nx
import numpy as np

from . import passes
from .graph import build_graph, describe_graph, graph_to_dot, render_graph
from .primitives import Tracer, data, tracing


class Model:
    """A model function applied to data, plus observations and interventions.

    Attributes:
        fn: the user's model function.
        name: the function's name.
        args: positional arguments (data and settings).
        kwargs: keyword arguments.
        observations: site name -> observed array.
        interventions: site name -> fixed value (``do``).
    """

    def __init__(self, fn: Callable[..., Any], args: tuple = (), kwargs: Mapping | None = None,
                 observations: Mapping[str, Any] | None = None,
                 interventions: Mapping[str, Any] | None = None):
        self.fn, self.args, self.kwargs = fn, tuple(args), dict(kwargs or {})
        self.name = getattr(fn, "__name__", "model")
        self.observations = dict(observations or {})
        self.interventions = dict(interventions or {})
        self._graph: nx.DiGraph | None = None

    # -- rewrites -------------------------------------------------------------------
    def observe(self, **values: Any) -> "Model":
        """Conditions sites on data by name; returns a new model. Checked at once."""
        new = Model(self.fn, self.args, self.kwargs, {**self.observations, **values},
                    self.interventions)
        new.graph  # noqa: B018 - validate now, before any inference runs
        return new

    def do(self, **values: Any) -> "Model":
        """Intervenes: fixes sites to values, cutting them from their parents."""
        new = Model(self.fn, self.args, self.kwargs, self.observations,
                    {**self.interventions, **values})
        new.graph  # noqa: B018
        return new

    def unobserved(self) -> "Model":
        """The same model with every observation removed (for prior predictive)."""
        return Model(self.fn, self.args, self.kwargs, {}, self.interventions)

    # -- the IR ---------------------------------------------------------------------
    @property
    def graph(self) -> nx.DiGraph:
        """The IR: one node per site; see :mod:`ppl.graph` for node attributes."""
        if self._graph is None:
            g = trace_graph(self.fn, self.args, self.kwargs)
            g = passes.apply_interventions(g, self.interventions)
            g = passes.apply_observations(g, self.observations)
            passes.validate(g)
            self._graph = g
        return self._graph

    def describe(self, file: Any = None) -> str:
        """A readable table of the sites; printed and returned."""
        text = describe_graph(self.graph)
        print(text, file=file)
        return text

    def to_dot(self) -> str:
        """The graph in graphviz DOT format."""
        return graph_to_dot(self.graph)

    def render(self, path: str) -> str:
        """Draws the graph to ``path`` (PNG/SVG/PDF with graphviz, else DOT text)."""
        return render_graph(self.graph, path)

    def __repr__(self) -> str:
        obs = ", ".join(self.observations)
        return f"<ppl.Model {self.name}{f' observed: {obs}' if obs else ''}>"


def trace_graph(fn: Callable[..., Any], args: tuple, kwargs: Mapping) -> nx.DiGraph:
    """Runs ``fn`` once with symbolic values and returns its graph."""
    tracer = Tracer()
    with tracing(tracer):
        bound = _symbolic_arguments(fn, args, kwargs)
        fn(*bound.args, **bound.kwargs)
    return build_graph(tracer, getattr(fn, "__name__", "model"))


def _symbolic_arguments(fn: Callable[..., Any], args: tuple, kwargs: Mapping) -> inspect.BoundArguments:
    """Binds arguments; arrays become named data sites so the graph records them."""
    bound = inspect.signature(fn).bind(*args, **kwargs)
    for name, value in list(bound.arguments.items()):
        if _is_data(value):
            bound.arguments[name] = data(name, np.asarray(value))
    return bound


def _is_data(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return value.ndim > 0 and value.dtype.kind in "biuf"
    if isinstance(value, (list, tuple)) and value and all(
            isinstance(v, (int, float, np.number)) for v in value):
        return True
    return hasattr(value, "__array__") and hasattr(value, "shape") and len(value.shape) > 0


def model(fn: Callable[..., Any]) -> Callable[..., Model]:
    """Decorator: ``@ppl.model def f(data...)``; ``f(data)`` returns a :class:`Model`."""

    @functools.wraps(fn)
    def factory(*args: Any, **kwargs: Any) -> Model:
        return Model(fn, args, kwargs)

    factory.model_fn = fn  # type: ignore[attr-defined]
    return factory
