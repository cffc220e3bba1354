"""The VAE as a training task for ``models.training.fit`` (ELBO, one z per datum)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models.vae_config import VAEPriorConfig


@dataclass(frozen=True)
class VAETask:
    """Maximise the mean ELBO with the reparameterisation trick."""

    config: VAEPriorConfig
    name: str = "vae"
    state_kind: str = "vae_training_state"

    def build(self, seed: int) -> Any:
        from models.nets.param_tree import ParamTree
        from models.vae_net import init_weights

        return ParamTree(init_weights(self.config.vae, seed))

    def meta(self) -> dict[str, Any]:
        return {"vae": self.config.to_json()}

    def loss(self, module: Any, batch: list[Any], generator: Any) -> Any:
        """batch = [x (b, d)]; the reparameterisation noise comes from ``generator``."""
        import torch
        from array_api_compat import torch as xp

        from models.vae_net import log_weights

        (x,) = batch
        eps = torch.randn((1, x.shape[0], self.config.vae.latent_dim), generator=generator, dtype=x.dtype)
        return -torch.mean(log_weights(module.params(), self.config.vae, x, eps, xp))
