"""The Pyro (PyTorch) backend: tensors, ops, primitives and compiled programs."""
from __future__ import annotations

from typing import Any

import numpy as np
import pyro
import pyro.distributions as pd
import torch
from pyro.distributions import constraints as pcons

from ..errors import LoweringError
from .base import Backend
from .torch_ops import torch_table
from .torch_truncated import TorchTruncated


class PyroBackend(Backend):
    """Lowers to Pyro; tensors use torch's default float dtype on the device."""

    name = "pyro"
    dist_module = pd
    constraints_module = pcons
    constraint_aliases = {"open_unit_interval": "unit_interval"}

    def __init__(self, device: str):
        if device == "cuda" and not torch.cuda.is_available():
            raise LoweringError(
                "device 'cuda' was requested but torch sees no GPU; install a CUDA build of "
                "torch (see the README) or use device='cpu'")
        self.device = device
        self.torch_device = torch.device(device)
        self.ops = torch_table()
        self.sample = pyro.sample
        self.deterministic = pyro.deterministic
        self.factor = pyro.factor

    def asarray(self, value: Any) -> torch.Tensor:
        if isinstance(value, torch.Tensor):
            return value.to(self.torch_device)
        arr = np.asarray(value)
        if not arr.flags.writeable:  # torch warns on (and may not alias) read-only arrays
            arr = arr.copy()
        dtype = torch.get_default_dtype() if arr.dtype.kind == "f" else None
        if arr.dtype.kind == "b":
            return torch.as_tensor(arr, device=self.torch_device)
        return torch.as_tensor(arr, dtype=dtype, device=self.torch_device)

    def to_numpy(self, value: Any) -> np.ndarray:
        return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)

    def family(self, name: str, params: dict[str, Any], statics: dict[str, int]) -> Any:
        # torch's distributions take only tensors (or python numbers) of one dtype.
        dtype = torch.get_default_dtype()
        floats = {k: (v.to(dtype) if isinstance(v, torch.Tensor) and v.dtype != dtype else v)
                  for k, v in params.items()}
        return super().family(name, floats, statics)

    def plate(self, name: str, size: int, dim: int) -> Any:
        return pyro.plate(name, size, dim=dim, device=self.torch_device)

    def param(self, name: str, init: Any, support: Any) -> Any:
        return pyro.param(name, init, constraint=self.constraint(support))

    def truncated(self, base: Any, low: Any, high: Any) -> Any:
        return TorchTruncated(base, low, high)

    def program(self, graph: Any) -> Any:
        from .pyro_program import PyroProgram

        return PyroProgram(graph, self)


def make_backend(device: str) -> PyroBackend:
    return PyroBackend(device)
