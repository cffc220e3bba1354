"""JAX and torch diffusion adapters (see ``inference.diffusion.adapter``)."""
from __future__ import annotations

from typing import Any, Callable

from ..smc.adapter_jax import JaxAdapter
from ..smc.adapter_torch import TorchAdapter


class JaxDiffusionAdapter(JaxAdapter):
    """Diffusion adapter over ``jax.numpy``."""

    def __init__(self, device: str = "cpu"):
        import jax.numpy as jnp

        super().__init__(device)
        self.xp = jnp
        self.dtype = jnp.result_type(float)

    def split(self, key: Any, n: int) -> list[Any]:
        # Iterating a device array slices it op by op (seconds for a few hundred
        # keys); numpy rows are valid raw keys and come out at once.
        import jax
        import numpy as np

        return list(np.asarray(jax.random.split(key, n)))

    def value_and_grad(self, fn: Callable[[Any], tuple[Any, Any]]) -> Callable[[Any], tuple[Any, Any, Any]]:
        import jax
        import jax.numpy as jnp

        def total(u: Any) -> tuple[Any, tuple[Any, Any]]:
            value, aux = fn(u)
            return jnp.sum(value), (value, aux)

        grad_fn = jax.grad(total, has_aux=True)

        def call(u: Any) -> tuple[Any, Any, Any]:
            grad, (value, aux) = grad_fn(u)
            return value, grad, aux

        return call

    def stop_gradient(self, x: Any) -> Any:
        import jax

        return jax.lax.stop_gradient(x)

    def is_tracer(self, x: Any) -> bool:
        import jax

        return isinstance(x, jax.core.Tracer)

    def concat(self, arrays: list[Any], axis: int = 0) -> Any:
        return self.xp.concatenate(arrays, axis=axis)


class TorchDiffusionAdapter(TorchAdapter):
    """Diffusion adapter over torch (through ``array_api_compat.torch``)."""

    def __init__(self, device: str = "cpu"):
        import torch
        from array_api_compat import torch as torch_xp

        super().__init__(device)
        self.xp = torch_xp
        self.dtype = torch.get_default_dtype()

    def value_and_grad(self, fn: Callable[[Any], tuple[Any, Any]]) -> Callable[[Any], tuple[Any, Any, Any]]:
        import torch

        def call(u: Any) -> tuple[Any, Any, Any]:
            with torch.enable_grad():
                u = u.detach().requires_grad_(True)
                value, aux = fn(u)
                (grad,) = torch.autograd.grad(value.sum(), u)
            detach = lambda a: a.detach() if isinstance(a, torch.Tensor) else a  # noqa: E731
            return value.detach(), grad, torch.utils._pytree.tree_map(detach, aux)

        return call

    def stop_gradient(self, x: Any) -> Any:
        return x.detach()

    def is_tracer(self, x: Any) -> bool:
        return False

    def concat(self, arrays: list[Any], axis: int = 0) -> Any:
        import torch

        return torch.cat(arrays, dim=axis)
