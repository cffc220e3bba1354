"""The coupling flow as a training task for ``models.training.fit`` (maximum likelihood)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models.flow_config import FlowPriorConfig


@dataclass(frozen=True)
class FlowTask:
    """Minimise the mean negative log density of the normalised data."""

    config: FlowPriorConfig
    name: str = "flow"
    state_kind: str = "flow_training_state"

    def build(self, seed: int) -> Any:
        from models.flow_net import init_weights
        from models.nets.param_tree import ParamTree

        return ParamTree(init_weights(self.config.flow, seed))

    def meta(self) -> dict[str, Any]:
        return {"flow": self.config.to_json()}

    def loss(self, module: Any, batch: list[Any], generator: Any) -> Any:
        """batch = [u (b, d)] or [u, context (b, c)]; deterministic given the batch."""
        from array_api_compat import torch as xp

        from models.flow_net import log_prob

        context = batch[1] if len(batch) > 1 else None
        return -xp.mean(log_prob(module.params(), self.config.flow, batch[0], context, xp))
