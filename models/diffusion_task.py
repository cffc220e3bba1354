"""The diffusion denoiser as a training task for ``models.training.fit``.

One loss (``denoising_loss``, written against an array namespace) serves both
training backends; ``loss`` (torch) and ``jax_loss`` (JAX) only differ in how
they draw the noise levels and noise and how they run the network.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from models.diffusion_config import DiffusionConfig


def denoising_loss(formulation: Any, apply: Callable, x0: Any, t: Any, eps: Any, xp: Any) -> Any:
    """Mean squared error of the network against the formulation's target.

    Args:
        formulation: a ``models.formulations`` formulation.
        apply: the network, (x (b, d), c_noise (b,)) -> (b, d).
        x0: clean data (b, d); t: times (b, 1); eps: standard normal noise (b, d).
        xp: array namespace of the arrays.
    """
    x_t = formulation.alpha(t, xp) * x0 + formulation.sigma(t, xp) * eps
    output = apply(formulation.c_in(t, xp) * x_t, formulation.c_noise(t[:, 0], xp))
    target = formulation.training_target(x0, eps, x_t, t, xp)
    return xp.mean((output - target) ** 2)


@dataclass(frozen=True)
class DiffusionTask:
    """Denoising score matching with the formulation's weighting and target."""

    config: DiffusionConfig
    name: str = "diffusion"
    state_kind: str = "diffusion_training_state"

    def build(self, seed: int) -> Any:
        from models.nets.registry import net_kind

        return net_kind(self.config.net).torch_build(self.config.net, seed)

    def init_weights(self, seed: int) -> dict[str, np.ndarray]:
        """The weights of ``build(seed)``: torch and JAX runs start from the same network."""
        from models.nets.convert import torch_to_numpy

        return torch_to_numpy(self.build(seed))

    def meta(self) -> dict[str, Any]:
        return {"diffusion": self.config.to_json()}

    def loss(self, module: Any, batch: list[Any], generator: Any) -> Any:
        """batch = [x0 (b, d)]; draws noise levels and noise from ``generator``."""
        import torch

        (x0,) = batch
        formulation = self.config.formulation
        t = formulation.sample_training_times(x0.shape[0], generator).to(x0.dtype)[:, None]
        eps = torch.randn(x0.shape, generator=generator, dtype=x0.dtype)
        return denoising_loss(formulation, module, x0, t, eps, torch)

    def jax_loss(self, params: dict[str, Any], batch: list[Any], key: Any) -> Any:
        """batch = [x0 (b, d)]; pure in (params, batch, key), so it can be jitted and differentiated."""
        import jax
        import jax.numpy as jnp

        from models.nets.registry import net_kind

        (x0,) = batch
        formulation, net = self.config.formulation, self.config.net
        draws = {"uniform": jax.random.uniform, "normal": jax.random.normal}
        key_t, key_eps = jax.random.split(key)
        t = formulation.training_times(draws[formulation.training_draw](key_t, (x0.shape[0],), x0.dtype), jnp)
        eps = jax.random.normal(key_eps, x0.shape, x0.dtype)
        jax_apply = net_kind(net).jax_apply
        return denoising_loss(formulation, lambda x, c: jax_apply(params, x, c, net), x0, t[:, None], eps, jnp)
