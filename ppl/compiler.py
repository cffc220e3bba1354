"""``ppl.compile``: from a model to a backend program."""
from __future__ import annotations

from typing import Any, Iterator

import networkx as nx

from .backends import get_backend
from .errors import LoweringError, ModelError
from .expr import Apply, Expr
from .graph import sites
from .numeric import NumericFunction
from .model import Model
from .program import Program


def compile(model: Model, backend: str = "numpyro", device: str = "cpu") -> Program:  # noqa: A001
    """Lowers a model to a backend program.

    Args:
        model: a :class:`~ppl.Model` (call the ``@ppl.model`` function first).
        backend: "numpyro" (JAX) or "pyro" (PyTorch).
        device: "cpu" or "cuda".

    Returns:
        A :class:`~ppl.program.Program` with the backend model function, the
        unconstrained log density and its gradient, and simulation.
    """
    if not isinstance(model, Model):
        raise ModelError(f"ppl.compile needs a Model, got {type(model).__name__}; did you "
                         "forget to call the @ppl.model function with its data?")
    graph = model.graph  # traced and validated before any backend is imported
    impl = get_backend(backend, device)
    check_lowerable(graph, impl)
    return impl.program(graph)


def check_lowerable(graph: nx.DiGraph, backend: Any) -> None:
    """Raises LoweringError, naming the site, for ops the backend has no lowering for."""
    for s in sites(graph):
        exprs = ([s.expr] if s.expr is not None else []) + (
            s.dist.param_exprs() if s.dist is not None else [])
        for op in _ops_in(exprs):
            if isinstance(op, NumericFunction) and not op.supports(backend.name):
                raise LoweringError(
                    f"numeric function '{op.name}' has no implementation for backend "
                    f"'{backend.name}'; give one with ppl.numeric(..., {backend.name}=fn) "
                    "or write it against the Array API", site=s.name)
            if isinstance(op, str) and not hasattr(backend.ops, op):
                raise LoweringError(f"op '{op}' has no lowering for backend '{backend.name}'",
                                    site=s.name)


def _ops_in(exprs: list[Expr]) -> Iterator[Any]:
    stack, seen = list(exprs), set()
    while stack:
        e = stack.pop()
        if e.id in seen or not isinstance(e, Apply):
            continue
        seen.add(e.id)
        yield e.params["fn"] if e.op == "numeric" else e.op
        stack.extend(e.args)
