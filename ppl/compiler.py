"""``ppl.compile``: from a model to a backend program."""
from __future__ import annotations

from .backends import get_backend
from .errors import ModelError
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
    return get_backend(backend, device).program(graph)
