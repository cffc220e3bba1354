"""Denoiser networks shared by the torch and JAX backends.

One parameter naming scheme (``spec.param_shapes``) is used by both
implementations, so a weight dict exported from one loads into the other.
Architectures (the MLP of ``spec`` and the UNet of ``unet``) are registered in
``models.nets.registry.NETS``. Import ``models.nets.torch_mlp`` or
``models.nets.jax_mlp`` explicitly; this package imports neither framework.
"""
from models.nets.spec import MLPConfig, param_shapes
from models.nets.unet import UNetConfig

__all__ = ["MLPConfig", "UNetConfig", "param_shapes"]
