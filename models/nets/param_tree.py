"""A torch module holding a flat, dotted-name weight dict as trainable parameters.

Priors whose math is written once against an array namespace (flows, VAEs)
keep their weights as a flat dict; wrapping it in nested ``nn.Module``s makes
``state_dict()`` keys equal the dict keys, so the shared training loop,
its checkpoints and ``models.nets.convert`` work unchanged.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import torch
from torch import nn


class ParamTree(nn.Module):
    """Parameters named like ``"flow.0.net.1.weight"``; ``params()`` returns them flat."""

    def __init__(self, arrays: Mapping[str, np.ndarray], dtype: torch.dtype = torch.float32):
        super().__init__()
        self._names = list(arrays)
        for name, value in arrays.items():
            *path, leaf = name.split(".")
            owner = self
            for part in path:
                if part not in owner._modules:
                    owner.add_module(part, nn.Module())
                owner = owner._modules[part]
            owner.register_parameter(leaf, nn.Parameter(torch.as_tensor(np.array(value), dtype=dtype)))

    def params(self) -> dict[str, torch.Tensor]:
        """name -> parameter tensor (differentiable), in insertion order."""
        named = dict(self.named_parameters())
        return {name: named[name] for name in self._names}


class FunctionalNet(ParamTree):
    """A denoiser whose forward is a pure function over the flat weight dict.

    The same ``apply(params, x, c_noise, config, xp)`` runs on JAX, so torch
    training and JAX evaluation share one definition of the architecture.
    ``forward(x, c_noise)``: x (n, d), c_noise (n,) -> (n, d).
    """

    def __init__(self, apply, config, arrays: Mapping[str, np.ndarray], dtype: torch.dtype = torch.float32):
        super().__init__(arrays, dtype)
        self.apply_fn, self.config = apply, config

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        from array_api_compat import torch as torch_xp

        return self.apply_fn(self.params(), x, c_noise, self.config, torch_xp)
