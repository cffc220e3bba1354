"""Compiled Pyro programs: densities from Pyro's MCMC utilities, simulation by tracing.

Pyro models cannot be vectorized over draws without rewriting user
expressions (a leading batch dim breaks ``x @ beta``), so simulation loops
over draws; NumPyro vectorizes the same calls with ``vmap``.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pyro
import torch
from pyro import poutine
from pyro.infer.mcmc.util import initialize_model

from ..graph import sites
from ..lowering import make_model_fn
from ..program import Program


class PyroProgram(Program):
    """A model lowered to Pyro."""

    def __init__(self, graph: Any, backend: Any):
        super().__init__(graph, backend, make_model_fn(graph, backend))
        self._potential_fn = None
        self._transforms: dict[str, Any] = {}

    def _init(self) -> None:
        if self._potential_fn is None and self.latent_names:
            _, self._potential_fn, self._transforms, _ = initialize_model(self.model_fn)

    def _tensors(self, values: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        return {k: self.backend.asarray(v) for k, v in values.items()}

    def log_density(self, unconstrained: Mapping[str, Any]) -> float:
        self._init()
        with torch.no_grad():
            return -float(self._potential_fn(self._tensors(unconstrained)))

    def grad_log_density(self, unconstrained: Mapping[str, Any]) -> dict[str, np.ndarray]:
        self._init()
        u = {k: v.clone().requires_grad_(True) for k, v in self._tensors(unconstrained).items()}
        grads = torch.autograd.grad(-self._potential_fn(u), list(u.values()))
        return {k: g.detach().cpu().numpy() for k, g in zip(u, grads)}

    def to_constrained(self, unconstrained: Mapping[str, Any]) -> dict[str, np.ndarray]:
        self._init()
        u = self._tensors(unconstrained)
        return {k: self.backend.to_numpy(self._transforms[k].inv(v)) for k, v in u.items()}

    def to_unconstrained(self, values: Mapping[str, Any]) -> dict[str, np.ndarray]:
        self._init()
        x = self._tensors(values)
        return {k: self.backend.to_numpy(self._transforms[k](v)) for k, v in x.items()}

    def _run(self, n: int, seed: int, condition: Mapping[str, np.ndarray] | None,
             roles: tuple[str, ...], observe: bool = False) -> list[Any]:
        pyro.set_rng_seed(seed)
        traces = []
        for i in range(n):
            fixed = {k: self.backend.asarray(v[i]) for k, v in (condition or {}).items()}
            model = poutine.condition(self.model_fn, data=fixed) if fixed else self.model_fn
            with torch.no_grad():
                traces.append(poutine.trace(model).get_trace(observe=observe))
        return traces

    def _stack(self, traces: list[Any], roles: tuple[str, ...]) -> dict[str, np.ndarray]:
        names = [s.name for s in sites(self.graph, *roles)]
        return {k: np.stack([self.backend.to_numpy(t.nodes[k]["value"]) for t in traces])
                for k in names}

    def sample_prior(self, num_samples: int, seed: int = 0) -> dict[str, np.ndarray]:
        traces = self._run(num_samples, seed, None, ())
        return self._stack(traces, ("latent", "observed", "deterministic"))

    def sample_predictive(self, samples: Mapping[str, np.ndarray], seed: int = 0) -> dict[str, np.ndarray]:
        latents = {k: samples[k] for k in self.latent_names if k in samples}
        n = len(next(iter(latents.values()))) if latents else 1
        traces = self._run(n, seed, latents, ())
        out = self._stack(traces, ("observed", "deterministic", "latent"))
        return {k: v for k, v in out.items() if k not in latents}

    def log_likelihood(self, samples: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        latents = {k: samples[k] for k in self.latent_names}
        n = len(next(iter(latents.values()))) if latents else 1
        traces = self._run(n, 0, latents, (), observe=True)
        out = {}
        for s in sites(self.graph, "observed"):
            rows = [t.nodes[s.name]["fn"].log_prob(t.nodes[s.name]["value"]) for t in traces]
            out[s.name] = np.stack([self.backend.to_numpy(r) for r in rows])
        return out
