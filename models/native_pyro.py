"""Pyro distribution wrapping a learned prior (see ``models.distribution``)."""
from __future__ import annotations

import math
from typing import Any

import torch
from pyro.distributions import TorchDistribution, constraints


class PyroLearned(TorchDistribution):
    """log_prob and sample from the prior's torch implementation, in the value's dtype.

    The prior's weights live on the CPU; values on another device are moved
    there and results moved back (correct, not fast).
    """

    arg_constraints: dict = {}
    has_rsample = False

    def __init__(self, spec: Any, device: str = "cpu", batch_shape: torch.Size = torch.Size()):
        self.spec, self.device = spec, torch.device(device)
        super().__init__(torch.Size(batch_shape), torch.Size(spec.event_shape), validate_args=False)

    @property
    def support(self) -> Any:
        return constraints.independent(constraints.real, len(self.event_shape))

    def _prior(self, dtype: torch.dtype) -> Any:
        return self.spec.on("torch", "float64" if dtype == torch.float64 else "float32")

    def expand(self, batch_shape: Any, _instance: Any = None) -> "PyroLearned":
        return PyroLearned(self.spec, str(self.device), torch.Size(batch_shape))

    def sample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        shape = torch.Size(sample_shape) + self.batch_shape
        prior = self._prior(torch.get_default_dtype())
        noise = torch.randn(self.spec.noise_shape(prior, math.prod(shape)), dtype=prior.backend.dtype)
        with torch.no_grad():
            draws = self.spec.sample_from_noise(prior, noise)
        return draws.reshape(shape + self.event_shape).to(self.device)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        batch = value.shape[: value.dim() - len(self.event_shape)]
        prior = self._prior(value.dtype)
        flat = value.reshape(-1, *self.event_shape).cpu()
        return self.spec.log_prob(prior, flat).reshape(batch).to(value.device)


def make(spec: Any, device: str) -> PyroLearned:
    return PyroLearned(spec, device)
