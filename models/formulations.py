"""Diffusion formulations: how a network output becomes a denoiser.

A formulation fixes the forward process x_t = alpha(t) x0 + sigma(t) eps, the
network preconditioning (c_in, c_noise), how the raw network output maps to
E[x0 | x_t], the regression target for training, how training times are drawn
and the grid of sampling times. Math is written once against ``xp`` so the
torch and JAX backends share it; training times are a function
(``training_times``) of standard draws of kind ``training_draw`` (``"uniform"``
or ``"normal"``), which each training backend makes with its own RNG.

* ``VPFormulation`` (DDPM): t in (0, 1], the network predicts eps.
* ``EDMFormulation`` (Karras et al. 2022, variance exploding): t *is* sigma,
  D(x; sigma) = c_skip x + c_out F(c_in x; c_noise).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from models.schedules import VP_SCHEDULES, karras_sigmas, uniform_times


@dataclass(frozen=True)
class VPFormulation:
    """Variance-preserving (DDPM) formulation with epsilon prediction.

    Attributes:
        schedule: key of ``models.schedules.VP_SCHEDULES``.
        t_min: smallest training time (avoids the degenerate t = 0).
    """

    schedule: str = "cosine"
    t_min: float = 1e-3
    name = "vp"
    training_draw = "uniform"

    def __post_init__(self):
        if self.schedule not in VP_SCHEDULES:
            raise ValueError(f"unknown VP schedule {self.schedule!r}; choose from {sorted(VP_SCHEDULES)}")

    def alpha_bar(self, t, xp=np):
        return VP_SCHEDULES[self.schedule](t, xp)

    def alpha(self, t, xp=np):
        return xp.sqrt(self.alpha_bar(t, xp))

    def sigma(self, t, xp=np):
        return xp.sqrt(1.0 - self.alpha_bar(t, xp))

    def c_in(self, t, xp=np):
        return xp.ones_like(t)

    def c_noise(self, t, xp=np):
        return 1000.0 * t

    def denoise_from_output(self, output, x_t, t, xp=np):
        return (x_t - self.sigma(t, xp) * output) / self.alpha(t, xp)

    def training_target(self, x0, eps, x_t, t, xp=np):
        return eps

    def training_times(self, draw, xp=np):
        """Training times (n,) from standard uniform draws (n,)."""
        return self.t_min + (1.0 - self.t_min) * draw

    def sample_training_times(self, n: int, generator) -> Any:
        import torch

        return self.training_times(torch.rand(n, generator=generator, dtype=torch.float64), torch)

    def sampling_times(self, num_steps: int) -> np.ndarray:
        return uniform_times(num_steps)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, **asdict(self)}


@dataclass(frozen=True)
class EDMFormulation:
    """Variance-exploding formulation with Karras preconditioning.

    Attributes:
        sigma_min, sigma_max: range of noise levels used for sampling.
        sigma_data: standard deviation of the (normalised) data.
        rho: curvature of the sampling grid.
        p_mean, p_std: log-normal distribution of training noise levels.
    """

    sigma_min: float = 0.002
    sigma_max: float = 80.0
    sigma_data: float = 1.0
    rho: float = 7.0
    p_mean: float = -1.2
    p_std: float = 1.2
    name = "edm"
    training_draw = "normal"

    def alpha(self, t, xp=np):
        return xp.ones_like(t)

    def sigma(self, t, xp=np):
        return t

    def c_in(self, t, xp=np):
        return 1.0 / xp.sqrt(t**2 + self.sigma_data**2)

    def c_noise(self, t, xp=np):
        # EDM uses log(sigma) / 4; x1000 spreads it over the embedding periods.
        return 250.0 * xp.log(t)

    def _c_skip_out(self, t, xp):
        total = t**2 + self.sigma_data**2
        return self.sigma_data**2 / total, t * self.sigma_data / xp.sqrt(total)

    def denoise_from_output(self, output, x_t, t, xp=np):
        c_skip, c_out = self._c_skip_out(t, xp)
        return c_skip * x_t + c_out * output

    def training_target(self, x0, eps, x_t, t, xp=np):
        # With EDM's loss weight lambda = 1 / c_out^2 this unweighted target is exact.
        c_skip, c_out = self._c_skip_out(t, xp)
        return (x0 - c_skip * x_t) / c_out

    def training_times(self, draw, xp=np):
        """Log-normal training noise levels (n,) from standard normal draws (n,)."""
        return xp.exp(self.p_mean + self.p_std * draw)

    def sample_training_times(self, n: int, generator) -> Any:
        import torch

        return self.training_times(torch.randn(n, generator=generator, dtype=torch.float64), torch)

    def sampling_times(self, num_steps: int) -> np.ndarray:
        return karras_sigmas(num_steps, self.sigma_min, self.sigma_max, self.rho)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, **asdict(self)}


FORMULATIONS = {"vp": VPFormulation, "edm": EDMFormulation}


def formulation_from_json(data: dict[str, Any]):
    """Inverse of ``to_json``."""
    data = dict(data)
    name = data.pop("name")
    if name not in FORMULATIONS:
        raise ValueError(f"unknown formulation {name!r}; choose from {sorted(FORMULATIONS)}")
    return FORMULATIONS[name](**data)
