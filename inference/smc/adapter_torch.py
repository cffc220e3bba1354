"""The torch array adapter; keys are integers seeding a fresh generator per draw."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
from array_api_compat import torch as torch_namespace


class TorchAdapter:
    """:class:`~inference.smc.adapter.ArrayAdapter` over torch tensors."""

    name = "pyro"

    def __init__(self, device: str = "cpu"):
        self.device = torch.device(device)

    def asarray(self, x: Any) -> torch.Tensor:
        if isinstance(x, torch.Tensor):
            return x.to(self.device)
        arr = np.asarray(x)
        dtype = torch.get_default_dtype() if arr.dtype.kind == "f" else None
        return torch.as_tensor(arr, dtype=dtype, device=self.device)

    def to_numpy(self, x: Any) -> np.ndarray:
        return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)

    def key(self, seed: int) -> int:
        return int(seed)

    def split(self, key: int, n: int) -> list[int]:
        return [int(s) for s in np.random.SeedSequence(key).generate_state(n, dtype=np.uint64) >> 1]

    def _generator(self, key: int) -> torch.Generator:
        return torch.Generator(device=self.device).manual_seed(int(key))

    def uniform(self, key: int, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.rand(shape, generator=self._generator(key), device=self.device)

    def normal(self, key: int, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.randn(shape, generator=self._generator(key), device=self.device)

    def arange(self, n: int) -> torch.Tensor:
        return torch.arange(n, device=self.device)

    def cumsum(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cumsum(x, dim=0)

    def searchsorted(self, sorted_x: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        return torch.searchsorted(sorted_x, values.to(sorted_x.dtype))

    def clip(self, x: torch.Tensor, low: Any, high: Any) -> torch.Tensor:
        return torch.clamp(x, low, high)

    def take(self, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        return x[idx]

    def where(self, cond: Any, a: Any, b: Any) -> torch.Tensor:
        return torch.where(cond, a, b)

    def exp(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(x)

    def log(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(x)

    def logsumexp(self, x: torch.Tensor) -> torch.Tensor:
        return torch.logsumexp(x, dim=0)

    def jit(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return fn  # eager; the density is already vectorized with torch.func.vmap

    # -- batched chains: arrays with a leading chain dim C ------------------------------------
    ns = torch_namespace

    def searchsorted_each(self, sorted_x: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        return torch.searchsorted(sorted_x.contiguous(), values.to(sorted_x.dtype).contiguous())

    def take_each(self, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        return x[torch.arange(x.shape[0], device=x.device)[:, None], idx]

    def eye(self, n: int, dtype: Any) -> torch.Tensor:
        return torch.eye(n, dtype=dtype, device=self.device)

    def cholesky(self, x: torch.Tensor) -> torch.Tensor:
        # cholesky_ex does not raise on a matrix that is not positive definite, so one
        # degenerate (or already finished, masked) chain cannot stop the others.
        return torch.linalg.cholesky_ex(x).L

    def fori_loop(self, n: int, body: Callable[[Any], Any], state: Any) -> Any:
        for _ in range(n):
            state = body(state)
        return state


def make_adapter(device: str = "cpu") -> TorchAdapter:
    return TorchAdapter(device)
