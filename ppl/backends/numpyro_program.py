"""Compiled NumPyro programs: densities by ``numpyro.infer.util``, simulation by Predictive."""
from __future__ import annotations

from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np
from numpyro import handlers
from numpyro.distributions.transforms import biject_to
from numpyro.infer import Predictive, log_likelihood
from numpyro.infer import util as nutil

from ..graph import sites
from ..lowering import make_model_fn
from ..program import Program


class NumPyroProgram(Program):
    """A model lowered to NumPyro."""

    def __init__(self, graph: Any, backend: Any):
        super().__init__(graph, backend, make_model_fn(graph, backend))
        self._potential = jax.jit(lambda u: nutil.potential_energy(self.model_fn, (), {}, u))
        self._grad = jax.jit(jax.grad(lambda u: -nutil.potential_energy(self.model_fn, (), {}, u)))

    def _arrays(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return {k: self.backend.asarray(v) for k, v in values.items()}

    def log_density(self, unconstrained: Mapping[str, Any]) -> float:
        return -float(self._potential(self._arrays(unconstrained)))

    def grad_log_density(self, unconstrained: Mapping[str, Any]) -> dict[str, np.ndarray]:
        return _numpy(self._grad(self._arrays(unconstrained)))

    def to_constrained(self, unconstrained: Mapping[str, Any]) -> dict[str, np.ndarray]:
        out = nutil.constrain_fn(self.model_fn, (), {}, self._arrays(unconstrained))
        return _numpy(out)

    def to_unconstrained(self, values: Mapping[str, Any]) -> dict[str, np.ndarray]:
        return _numpy(nutil.unconstrain_fn(self.model_fn, (), {}, self._arrays(values)))

    def _keep(self, draws: dict[str, Any], roles: tuple[str, ...]) -> dict[str, np.ndarray]:
        names = {s.name for s in sites(self.graph, *roles)}
        return {k: np.asarray(v) for k, v in draws.items() if k in names}

    def unconstrained_shapes(self) -> dict[str, tuple[int, ...]]:
        # One un-jitted run of the model is far cheaper than compiling Predictive.
        tr = handlers.trace(handlers.seed(self.model_fn, 0)).get_trace()
        return {k: tuple(biject_to(tr[k]["fn"].support).inv(tr[k]["value"]).shape)
                for k in self.latent_names}

    def sample_prior(self, num_samples: int, seed: int = 0) -> dict[str, np.ndarray]:
        draws = Predictive(self.model_fn, num_samples=num_samples)(
            jax.random.PRNGKey(seed), observe=False)
        return self._keep(draws, ("latent", "observed", "deterministic"))

    def sample_predictive(self, samples: Mapping[str, np.ndarray], seed: int = 0) -> dict[str, np.ndarray]:
        latents = {k: jnp.asarray(samples[k]) for k in self.latent_names if k in samples}
        draws = Predictive(self.model_fn, posterior_samples=latents)(
            jax.random.PRNGKey(seed), observe=False)
        out = self._keep(draws, ("observed", "deterministic", "latent"))
        return {k: v for k, v in out.items() if k not in latents}

    def log_likelihood(self, samples: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        latents = {k: jnp.asarray(samples[k]) for k in self.latent_names}
        out = log_likelihood(self.model_fn, latents)
        return self._keep(out, ("observed",))


def _numpy(tree: Mapping[str, Any]) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in tree.items()}
