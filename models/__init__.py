"""Learned generative components and analytic priors (see DESIGN.md §6).

Public names are imported lazily so ``import models`` loads neither torch nor
JAX; the heavy frameworks load when a prior is trained, loaded or evaluated.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "DiffusionPrior": "models.diffusion",
    "GaussianMixturePrior": "models.gmm",
    "FlowPrior": "models.flow",
    "FlowConfig": "models.flow_config",
    "VAEPrior": "models.vae",
    "VAEConfig": "models.vae_config",
    "LearnedDistribution": "models.distribution",
    "Normalization": "models.diffusion_config",
    "DiffusionConfig": "models.diffusion_config",
    "TraceEstimator": "models.likelihood",
    "VPFormulation": "models.formulations",
    "EDMFormulation": "models.formulations",
    "MLPConfig": "models.nets.spec",
    "UNetConfig": "models.nets.unet",
    "Checkpoint": "models.checkpoint",
    "save_checkpoint": "models.checkpoint",
    "load_checkpoint": "models.checkpoint",
    "load_digits": "models.data",
    "two_moons": "models.data",
    "rings": "models.data",
    "gaussian_grid": "models.data",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'models' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__():
    return __all__
