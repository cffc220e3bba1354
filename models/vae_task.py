"""The VAE as a training task for ``models.training.fit`` (ELBO, one z per datum)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from models.vae_config import VAEPriorConfig


@dataclass(frozen=True)
class VAETask:
    """Maximise the mean ELBO with the reparameterisation trick.

    ``loss`` (torch) and ``jax_loss`` (JAX) draw the noise with their own RNG
    and share ``negative_elbo``.
    """

    config: VAEPriorConfig
    name: str = "vae"
    state_kind: str = "vae_training_state"

    def init_weights(self, seed: int) -> dict[str, np.ndarray]:
        from models.vae_net import init_weights

        return init_weights(self.config.vae, seed)

    def build(self, seed: int) -> Any:
        from models.nets.param_tree import ParamTree

        return ParamTree(self.init_weights(seed))

    def meta(self) -> dict[str, Any]:
        return {"vae": self.config.to_json()}

    def negative_elbo(self, params: dict[str, Any], x: Any, eps: Any, xp: Any) -> Any:
        """x (b, d), eps (1, b, latent_dim) standard normal -> scalar."""
        from models.vae_net import log_weights

        return -xp.mean(log_weights(params, self.config.vae, x, eps, xp))

    def loss(self, module: Any, batch: list[Any], generator: Any) -> Any:
        """batch = [x (b, d)]; the reparameterisation noise comes from ``generator``."""
        import torch
        from array_api_compat import torch as xp

        (x,) = batch
        eps = torch.randn((1, x.shape[0], self.config.vae.latent_dim), generator=generator, dtype=x.dtype)
        return self.negative_elbo(module.params(), x, eps, xp)

    def jax_loss(self, params: dict[str, Any], batch: list[Any], key: Any) -> Any:
        import jax
        import jax.numpy as jnp

        (x,) = batch
        eps = jax.random.normal(key, (1, x.shape[0], self.config.vae.latent_dim), x.dtype)
        return self.negative_elbo(params, x, eps, jnp)
