"""What the particle-filter proposals need from a backend: draws, distributions, linear algebra.

The proposals of :mod:`.proposals` are written once against a
:class:`ProposalOps`; one instance per backend (JAX keys split per draw, or
torch's generator batched by ``torch.func.vmap(randomness="different")``).
"""
from __future__ import annotations

from typing import Any


class JaxOps:
    """NumPyro distributions; a particle's draws come from its own key, split per draw."""

    def __init__(self, key: Any):
        import jax
        import jax.numpy as jnp
        import numpyro.distributions as nd

        self.jax, self.ns, self.nd, self.key = jax, jnp, nd, key
        self.distribution = nd.Distribution
        self.wrappers = (nd.Independent, nd.ExpandedDistribution)
        self.normal = nd.Normal

    def sample(self, fn: Any) -> Any:
        self.key, sub = self.jax.random.split(self.key)
        return fn.sample(sub)

    def jacfwd(self, fn: Any) -> Any:
        return self.jax.jacfwd(fn)

    def mvn(self, mean: Any, cov: Any) -> Any:
        return self.nd.MultivariateNormal(mean, covariance_matrix=cov)


class TorchOps:
    """Pyro/torch distributions; draws use torch's generator (batched by vmap)."""

    def __init__(self, key: Any = None):
        import torch
        from array_api_compat import torch as torch_ns
        from pyro.distributions.torch_distribution import ExpandedDistribution

        self.torch, self.ns = torch, torch_ns
        self.distribution = torch.distributions.Distribution
        self.wrappers = (torch.distributions.Independent, ExpandedDistribution)
        self.normal = torch.distributions.Normal

    def sample(self, fn: Any) -> Any:
        return fn.sample()

    def jacfwd(self, fn: Any) -> Any:
        return self.torch.func.jacfwd(fn)

    def mvn(self, mean: Any, cov: Any) -> Any:
        return self.torch.distributions.MultivariateNormal(mean, covariance_matrix=cov)
