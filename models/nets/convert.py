"""The only place where weights cross between torch, numpy and JAX.

numpy float arrays are the interchange format (they are what safetensors
stores); every conversion goes through them.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ppl.errors import CheckpointError
from models.nets.spec import MLPConfig, param_shapes


def check_params(params: Mapping[str, Any], config: MLPConfig, where: str = "weights") -> None:
    """Raise ``CheckpointError`` if names or shapes differ from the MLP denoiser scheme."""
    check_shapes(params, param_shapes(config), where)


def check_shapes(params: Mapping[str, Any], expected: Mapping[str, tuple[int, ...]],
                 where: str = "weights") -> None:
    """Raise ``CheckpointError`` if names or shapes differ from ``expected``."""
    missing = sorted(set(expected) - set(params))
    extra = sorted(set(params) - set(expected))
    if missing or extra:
        raise CheckpointError(f"{where}: missing parameters {missing}, unexpected {extra}")
    for name, shape in expected.items():
        if tuple(params[name].shape) != shape:
            raise CheckpointError(
                f"{where}: parameter '{name}' has shape {tuple(params[name].shape)}, expected {shape}"
            )


def torch_to_numpy(module_or_state: Any) -> dict[str, np.ndarray]:
    """Copy a torch module's (or state dict's) tensors into numpy arrays."""
    state = module_or_state.state_dict() if hasattr(module_or_state, "state_dict") else module_or_state
    return {k: v.detach().cpu().numpy().copy() for k, v in state.items()}


def numpy_to_torch(arrays: Mapping[str, np.ndarray], dtype: Any = None) -> dict[str, Any]:
    """numpy arrays -> torch tensors (optionally cast to ``dtype``)."""
    import torch

    return {k: torch.as_tensor(np.array(v), dtype=dtype) for k, v in arrays.items()}


def numpy_to_jax(arrays: Mapping[str, np.ndarray], dtype: Any = None) -> dict[str, Any]:
    """numpy arrays -> jax arrays (float64 needs ``jax.enable_x64``)."""
    import jax.numpy as jnp

    return {k: jnp.asarray(v, dtype=dtype) for k, v in arrays.items()}


def jax_to_numpy(params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """jax arrays -> numpy arrays."""
    return {k: np.asarray(v) for k, v in params.items()}
