"""A compiled model: the backend model function plus densities and simulation.

``ppl.compile(model, backend, device)`` returns a :class:`Program`. Every
array it takes or returns at its public surface is a ``dict`` of site name ->
array; ``log_density`` and its gradient work on the unconstrained space
(each latent mapped to R^k by the backend's bijection for its support), and
include the log-Jacobian of that map.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

import networkx as nx
import numpy as np

from .graph import sites


class Program:
    """Base class of compiled programs; one subclass per backend.

    Attributes:
        graph: the IR it was compiled from.
        backend: the backend object (arrays, ops, primitives).
        model_fn: ``model_fn(data=None, observe=True)``, a Pyro/NumPyro model.
    """

    def __init__(self, graph: nx.DiGraph, backend: Any, model_fn: Callable[..., Any]):
        self.graph, self.backend, self.model_fn = graph, backend, model_fn

    @property
    def backend_name(self) -> str:
        return self.backend.name

    @property
    def latent_names(self) -> list[str]:
        return [s.name for s in sites(self.graph, "latent")]

    @property
    def observed_names(self) -> list[str]:
        return [s.name for s in sites(self.graph, "observed")]

    def log_density(self, unconstrained: Mapping[str, Any]) -> float:
        """Log joint density at an unconstrained point, with the log-Jacobian."""
        raise NotImplementedError

    def grad_log_density(self, unconstrained: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Gradient of :meth:`log_density` with respect to each unconstrained latent."""
        raise NotImplementedError

    def to_constrained(self, unconstrained: Mapping[str, Any]) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def to_unconstrained(self, values: Mapping[str, Any]) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def sample_prior(self, num_samples: int, seed: int = 0) -> dict[str, np.ndarray]:
        """Joint draws of every latent, observed and deterministic site from the prior.

        Returns:
            site name -> array of shape (num_samples, *site_shape).
        """
        raise NotImplementedError

    def sample_predictive(self, samples: Mapping[str, np.ndarray], seed: int = 0) -> dict[str, np.ndarray]:
        """Draws every site not given, conditioned on the latent draws given (n, ...).

        Latents missing from ``samples`` (e.g. outputs at new inputs that were
        never observed) are drawn from their conditional distributions, as
        observed and deterministic sites are.
        """
        raise NotImplementedError

    def log_likelihood(self, samples: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Pointwise log-likelihood of each observed site for latent draws (n, ...)."""
        raise NotImplementedError

    def unconstrained_shapes(self) -> dict[str, tuple[int, ...]]:
        """Shape of each latent in the unconstrained space."""
        draw = self.sample_prior(1, seed=0)
        u = self.to_unconstrained({k: draw[k][0] for k in self.latent_names})
        return {k: np.shape(v) for k, v in u.items()}

    def __repr__(self) -> str:
        return (f"<ppl.Program {self.graph.graph.get('name')} on {self.backend.name}/"
                f"{self.backend.device}: latents {self.latent_names}>")
