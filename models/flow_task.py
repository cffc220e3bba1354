"""The coupling flow as a training task for ``models.training.fit`` (maximum likelihood)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from models.flow_config import FlowPriorConfig


@dataclass(frozen=True)
class FlowTask:
    """Minimise the mean negative log density of the normalised data.

    ``loss`` (torch) and ``jax_loss`` (JAX) share ``negative_log_likelihood``.
    """

    config: FlowPriorConfig
    name: str = "flow"
    state_kind: str = "flow_training_state"

    def init_weights(self, seed: int) -> dict[str, np.ndarray]:
        from models.flow_net import init_weights

        return init_weights(self.config.flow, seed)

    def build(self, seed: int) -> Any:
        from models.nets.param_tree import ParamTree

        return ParamTree(self.init_weights(seed))

    def meta(self) -> dict[str, Any]:
        return {"flow": self.config.to_json()}

    def negative_log_likelihood(self, params: dict[str, Any], batch: list[Any], xp: Any) -> Any:
        """batch = [u (b, d)] or [u, context (b, c)]; deterministic given the batch."""
        from models.flow_net import log_prob

        context = batch[1] if len(batch) > 1 else None
        return -xp.mean(log_prob(params, self.config.flow, batch[0], context, xp))

    def loss(self, module: Any, batch: list[Any], generator: Any) -> Any:
        from array_api_compat import torch as xp

        return self.negative_log_likelihood(module.params(), batch, xp)

    def jax_loss(self, params: dict[str, Any], batch: list[Any], key: Any) -> Any:
        import jax.numpy as jnp

        return self.negative_log_likelihood(params, batch, jnp)
