"""Out-of-place random fills, so torch samplers can run under ``torch.func.vmap``.

Torch samplers draw by filling a fresh tensor in place
(``torch.empty(shape).normal_()``); under ``vmap(randomness="different")``
that tensor is unbatched and vmap refuses to randomise it per batch member.
:class:`OutOfPlaceRandom` swaps those fills for out-of-place draws of the
same law, which vmap batches.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch.overrides import TorchFunctionMode


def _uniform(t: torch.Tensor) -> torch.Tensor:
    return torch.rand(t.shape, dtype=t.dtype, device=t.device)


def _args(args: tuple, kwargs: dict, names: tuple[str, ...], defaults: tuple) -> list[Any]:
    """A fill's parameters from positional and keyword arguments (``from`` is a keyword)."""
    return [args[i] if i < len(args) else kwargs.get(n, d)
            for i, (n, d) in enumerate(zip(names, defaults))]


def _normal(t: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    mean, std = _args(args, kwargs, ("mean", "std"), (0.0, 1.0))
    return mean + std * torch.randn(t.shape, dtype=t.dtype, device=t.device)


def _uniform_fill(t: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    low, high = _args(args, kwargs, ("from", "to"), (0.0, 1.0))
    return low + (high - low) * _uniform(t)


def _exponential(t: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    (rate,) = _args(args, kwargs, ("lambd",), (1.0,))
    return -torch.log1p(-_uniform(t)) / rate


def _cauchy(t: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    median, sigma = _args(args, kwargs, ("median", "sigma"), (0.0, 1.0))
    return median + sigma * torch.tan(torch.pi * (_uniform(t) - 0.5))


# In-place fill -> fill(tensor, *args, **kwargs) -> an out-of-place draw of the same law.
OUT_OF_PLACE: dict[Any, Callable[..., torch.Tensor]] = {
    torch.Tensor.normal_: _normal, torch.Tensor.uniform_: _uniform_fill,
    torch.Tensor.exponential_: _exponential, torch.Tensor.cauchy_: _cauchy,
}


class OutOfPlaceRandom(TorchFunctionMode):
    """Runs the in-place random fills of :data:`OUT_OF_PLACE` as out-of-place draws.

    The fills' callers only use the returned tensor, so returning a new
    (vmap-batched) tensor instead of filling the unbatched one is equivalent.
    """

    def __torch_function__(self, func: Any, types: Any, args: tuple = (),
                           kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func in OUT_OF_PLACE and not kwargs.get("generator"):
            return OUT_OF_PLACE[func](*args, **{k: v for k, v in kwargs.items()
                                                if k != "generator"})
        return func(*args, **kwargs)
