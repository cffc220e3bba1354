"""Measured training recipes for diffusion priors, shared by the priors benchmark and the examples.

A recipe fixes everything but the step budget: the denoiser, the formulation,
the optimiser settings (batch, peak lr, EMA decay, warm-up; the lr then decays
to zero on a cosine over the whole run, ``models.training.LRSchedule``) and the
sampler the quality numbers are measured with. The numbers behind each choice
are in ``benchmarks/priors.py``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from models.formulations import EDMFormulation


@dataclass(frozen=True)
class DiffusionRecipe:
    """How to train (and sample) one kind of diffusion prior.

    Attributes:
        net: zero-argument factory of the denoiser config (keeps imports lazy).
        formulation: the diffusion formulation.
        batch_size, lr, ema_decay: optimiser settings (lr is the peak).
        warmup_steps: linear lr warm-up before the cosine decay.
        sampler, num_steps: how draws are made for quality scores.
    """

    net: Callable[[], Any]
    formulation: EDMFormulation = EDMFormulation()
    batch_size: int = 128
    lr: float = 2e-3
    ema_decay: float = 0.999
    warmup_steps: int = 100
    sampler: str = "heun"
    num_steps: int = 32

    def train_kwargs(self, steps: int) -> dict[str, Any]:
        """Keyword arguments of ``DiffusionPrior.train`` for a run of ``steps`` steps.

        The lr decays to zero at ``steps``: a run must be trained to its
        planned length (chunks that resume from checkpoints may stop earlier;
        the schedule stays that of the planned run).
        """
        from models.training import LRSchedule

        schedule = LRSchedule(decay_steps=max(steps, self.warmup_steps + 1), warmup_steps=self.warmup_steps)
        return {"net": self.net(), "formulation": self.formulation, "batch_size": self.batch_size, "lr": self.lr,
                "ema_decay": self.ema_decay, "lr_schedule": schedule}

    def sample_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``DiffusionPrior.sample`` for quality scores."""
        return {"sampler": self.sampler, "num_steps": self.num_steps}


def _digits_unet():
    from models.nets.unet import UNetConfig

    return UNetConfig(image_shape=(1, 8, 8), channels=(16, 32))


def _moons_mlp():
    from models.nets.spec import MLPConfig

    return MLPConfig(data_dim=2, hidden_dim=64, num_blocks=2)


RECIPES: dict[str, DiffusionRecipe] = {
    # Ancestral (DDPM) sampling on the EDM grid: FD 0.615 / 0.623 vs Heun-32's 0.660 / 0.660 (seeds 1-4,
    # two UNets after 9000 steps); a stochastic sampler corrects part of a small denoiser's errors.
    # The cosine lr matches 9000 constant-lr steps (EMA 0.999) in 6000 (benchmarks/priors.py).
    "digits_unet": DiffusionRecipe(_digits_unet, sampler="ddpm", num_steps=100),
    "moons_mlp": DiffusionRecipe(_moons_mlp, batch_size=256),
}
