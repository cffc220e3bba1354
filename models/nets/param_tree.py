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
