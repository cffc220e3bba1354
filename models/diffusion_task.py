"""The diffusion denoiser as a training task for ``models.training.fit``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models.diffusion_config import DiffusionConfig


@dataclass(frozen=True)
class DiffusionTask:
    """Denoising score matching with the formulation's weighting and target."""

    config: DiffusionConfig
    name: str = "diffusion"
    state_kind: str = "diffusion_training_state"

    def build(self, seed: int) -> Any:
        from models.nets.registry import net_kind

        return net_kind(self.config.net).torch_build(self.config.net, seed)

    def meta(self) -> dict[str, Any]:
        return {"diffusion": self.config.to_json()}

    def loss(self, module: Any, batch: list[Any], generator: Any) -> Any:
        """batch = [x0 (b, d)]; draws noise levels and noise from ``generator``."""
        import torch

        (x0,) = batch
        formulation = self.config.formulation
        t = formulation.sample_training_times(x0.shape[0], generator).to(x0.dtype)[:, None]
        eps = torch.randn(x0.shape, generator=generator, dtype=x0.dtype)
        x_t = formulation.alpha(t, torch) * x0 + formulation.sigma(t, torch) * eps
        output = module(formulation.c_in(t, torch) * x_t, formulation.c_noise(t[:, 0], torch))
        target = formulation.training_target(x0, eps, x_t, t, torch)
        return torch.mean((output - target) ** 2)
