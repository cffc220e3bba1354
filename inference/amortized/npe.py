"""NPE: a conditional coupling flow q(theta | x) with a jointly trained embedding.

In standardised coordinates (theta and x z-scored on the training
simulations) the density is

    c = embed(x),   u = (theta - m(c)) * exp(-s(c)),   q(theta | x) = flow(u | c) * exp(-sum s(c))

where the optional conditional affine layer (m, s) comes from a small MLP on
the context and ``flow`` is the coupling flow of ``models.flow_net``
conditioned on c. Everything is written once against an array namespace
``xp``, so torch (Pyro) and JAX (NumPyro) train and evaluate the same math on
the same flat weight dict. A one-dimensional theta is padded with an
independent standard normal coordinate (a coupling flow needs two), which is
dropped from draws.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from models import flow_net
from models.flow_config import FlowConfig
from models.nets.dense import dense_apply, dense_shapes, init_dense

from . import embedding
from .config import EmbeddingConfig, NPEConfig

_AFFINE_CLAMP = 5.0  # bound on the affine log-scale (in standardised units)


@dataclass(frozen=True)
class NPESpec:
    """Static architecture (hashable, so jitted steps are cached per spec).

    Attributes:
        flow: the coupling flow over (padded) standardised theta.
        embedding: the network on x.
        x_shape: shape of one observation as the embedding sees it.
        affine: whether the conditional affine layer is used.
        pad: 1 when a dummy coordinate was appended to a 1-d theta, else 0.
    """

    flow: FlowConfig
    embedding: EmbeddingConfig
    x_shape: tuple[int, ...]
    affine: bool = True
    pad: int = 0

    @classmethod
    def build(cls, config: NPEConfig, theta_dim: int, x_shape: tuple[int, ...]) -> "NPESpec":
        pad = 1 if theta_dim == 1 else 0
        flow = FlowConfig(dim=theta_dim + pad, coupling=config.coupling, num_layers=config.num_layers,
                          hidden_dim=config.hidden_dim, num_hidden=config.num_hidden, num_bins=config.num_bins,
                          tail_bound=config.tail_bound,
                          context_dim=embedding.output_dim(config.embedding, x_shape))
        return cls(flow, config.embedding, tuple(x_shape), config.affine, pad)

    def _affine_sizes(self) -> list[int]:
        return [self.flow.context_dim, self.flow.hidden_dim, 2 * self.flow.dim]

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = {**flow_net.param_shapes(self.flow), **embedding.param_shapes(self.embedding, self.x_shape)}
        return {**shapes, **(dense_shapes("affine", self._affine_sizes()) if self.affine else {})}

    def init_weights(self, seed: int) -> dict[str, np.ndarray]:
        """Seeded float32 weights; the flow and the affine layer start as the identity."""
        weights = flow_net.init_weights(self.flow, seed)
        gen = np.random.default_rng([seed, 1])
        weights.update(embedding.init_weights(self.embedding, self.x_shape, gen))
        if self.affine:
            weights.update(init_dense(gen, "affine", self._affine_sizes(), zero_last=True))
        return weights

    def to_json(self) -> dict[str, Any]:
        return {"flow": self.flow.to_json(), "embedding": self.embedding.__dict__.copy(),
                "x_shape": list(self.x_shape), "affine": self.affine, "pad": self.pad}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "NPESpec":
        return cls(FlowConfig(**data["flow"]), EmbeddingConfig(**data["embedding"]), tuple(data["x_shape"]),
                   bool(data["affine"]), int(data["pad"]))


def _affine(params: Mapping[str, Any], spec: NPESpec, context: Any, xp: Any) -> tuple[Any, Any]:
    """Shift and log-scale (n, d) of the conditional affine layer."""
    raw = dense_apply(params, "affine", context, 2, xp)
    shift, log_scale = raw[:, :spec.flow.dim], raw[:, spec.flow.dim:]
    return shift, _AFFINE_CLAMP * xp.tanh(log_scale / _AFFINE_CLAMP)


def log_prob(params: Mapping[str, Any], spec: NPESpec, theta: Any, x: Any, xp: Any) -> Any:
    """log q(theta | x) in standardised coordinates: theta (n, d + pad), x (n, dim_x) -> (n,)."""
    context = embedding.apply(params, spec.embedding, x, spec.x_shape, xp)
    log_det = xp.zeros_like(theta[:, 0])
    if spec.affine:
        shift, log_scale = _affine(params, spec, context, xp)
        theta = (theta - shift) * xp.exp(-log_scale)
        log_det = -xp.sum(log_scale, axis=-1)
    return flow_net.log_prob(params, spec.flow, theta, context, xp) + log_det


def sample(params: Mapping[str, Any], spec: NPESpec, noise: Any, x: Any, xp: Any) -> Any:
    """Standard normal noise (n, d + pad) and x (n, dim_x) -> standardised theta (n, d)."""
    context = embedding.apply(params, spec.embedding, x, spec.x_shape, xp)
    theta = flow_net.inverse(params, spec.flow, noise, context, xp)
    if spec.affine:
        shift, log_scale = _affine(params, spec, context, xp)
        theta = theta * xp.exp(log_scale) + shift
    return theta[:, :spec.flow.dim - spec.pad]


@dataclass(frozen=True)
class NPETask:
    """Maximum likelihood of theta given x: the training task of ``inference.amortized.train``."""

    spec: NPESpec
    name: str = "npe"
    state_kind: str = "npe_training_state"

    def init_weights(self, seed: int) -> dict[str, np.ndarray]:
        return self.spec.init_weights(seed)

    def build(self, seed: int) -> Any:
        from models.nets.param_tree import ParamTree

        return ParamTree(self.init_weights(seed))

    def meta(self) -> dict[str, Any]:
        return {"npe": self.spec.to_json()}

    def validation_noise(self, n: int, seed: int) -> list[np.ndarray]:
        return []  # the loss is deterministic given the batch

    def objective(self, params: Mapping[str, Any], batch: list[Any], noise: list[Any], xp: Any) -> Any:
        """Mean negative log density; batch = [theta (b, d + pad), x (b, dim_x)]."""
        return -xp.mean(log_prob(params, self.spec, batch[0], batch[1], xp))

    def loss(self, module: Any, batch: list[Any], generator: Any) -> Any:
        from array_api_compat import torch as xp

        return self.objective(module.params(), batch, [], xp)

    def jax_loss(self, params: dict[str, Any], batch: list[Any], key: Any) -> Any:
        import jax.numpy as jnp

        return self.objective(params, batch, [], jnp)
