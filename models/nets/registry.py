"""Registry of denoiser architectures usable by ``DiffusionPrior``.

Each entry (``NetKind``) says how to build a config from an event shape, the
parameter naming scheme, and how to run the weights on torch (an
``nn.Module`` for training and Pyro) and on JAX (a pure function for NumPyro).
Configs carry their registry name as the class attribute ``kind``; in JSON it
is the ``"type"`` key (checkpoints written before the UNet existed have none
and mean ``"mlp"``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from models.nets.convert import check_shapes
from models.nets.spec import MLPConfig, param_shapes as mlp_shapes
from models.nets.unet import UNetConfig, init_weights as unet_init, param_shapes as unet_shapes

NetConfig = Any  # MLPConfig | UNetConfig


@dataclass(frozen=True)
class NetKind:
    """One denoiser architecture.

    Attributes:
        config_cls: its frozen config class (``from_json`` / ``to_json``).
        default: event_shape -> a default config for data of that shape.
        param_shapes: config -> name -> shape (both backends).
        torch_build: (config, seed) -> freshly initialised ``nn.Module``.
        torch_module: (config, numpy weights, torch dtype) -> ``nn.Module``.
        jax_apply: (params, x (n, d), c_noise (n,), config) -> (n, d); pure.
    """

    config_cls: type
    default: Callable[[tuple[int, ...]], NetConfig]
    param_shapes: Callable[[NetConfig], dict[str, tuple[int, ...]]]
    torch_build: Callable[[NetConfig, int], Any]
    torch_module: Callable[[NetConfig, Mapping[str, np.ndarray], Any], Any]
    jax_apply: Callable[..., Any]


def _mlp_torch_build(config, seed):
    from models.nets import torch_mlp

    return torch_mlp.build(config, seed=seed)


def _mlp_torch_module(config, arrays, dtype):
    from models.nets import torch_mlp

    return torch_mlp.from_numpy(config, arrays, dtype=dtype)


def _mlp_jax_apply(params, x, c_noise, config):
    from models.nets import jax_mlp

    return jax_mlp.apply(params, x, c_noise, config)


def _unet_torch_module(config, arrays, dtype=None):
    import torch

    from models.nets import unet
    from models.nets.param_tree import FunctionalNet

    check_shapes(arrays, unet_shapes(config))
    return FunctionalNet(unet.apply, config, arrays, dtype or torch.float32)


def _unet_jax_apply(params, x, c_noise, config):
    import jax.numpy as jnp

    from models.nets import unet

    return unet.apply(params, x, c_noise, config, jnp)


NETS: dict[str, NetKind] = {
    "mlp": NetKind(MLPConfig, lambda shape: MLPConfig(data_dim=int(np.prod(shape))), mlp_shapes,
                   _mlp_torch_build, _mlp_torch_module, _mlp_jax_apply),
    "unet": NetKind(UNetConfig, lambda shape: UNetConfig(image_shape=tuple(shape)), unet_shapes,
                    lambda config, seed: _unet_torch_module(config, unet_init(config, seed)),
                    _unet_torch_module, _unet_jax_apply),
}


def net_kind(config: NetConfig) -> NetKind:
    """The registry entry of a config instance."""
    return NETS[type(config).kind]


def default_net(name: str, event_shape: tuple[int, ...]) -> NetConfig:
    """A registered architecture's default config for events of ``event_shape``."""
    if name not in NETS:
        raise ValueError(f"unknown net {name!r}; choose from {sorted(NETS)}")
    return NETS[name].default(tuple(event_shape))


def net_to_json(config: NetConfig) -> dict[str, Any]:
    return {"type": type(config).kind, **config.to_json()}


def net_from_json(data: dict[str, Any]) -> NetConfig:
    data = dict(data)
    name = data.pop("type", "mlp")
    if name not in NETS:
        raise ValueError(f"unknown net type {name!r}; choose from {sorted(NETS)}")
    return NETS[name].config_cls.from_json(data)


def check_net_params(params: Mapping[str, Any], config: NetConfig, where: str = "weights") -> None:
    """Raise ``CheckpointError`` if names or shapes differ from the config's scheme."""
    check_shapes(params, net_kind(config).param_shapes(config), where)
