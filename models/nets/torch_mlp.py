"""torch implementation of the MLP denoiser (see ``models.nets.spec``)."""
from __future__ import annotations

from typing import Mapping

import numpy as np
import torch
from torch import nn

from models.nets.convert import check_params, numpy_to_torch
from models.nets.spec import MLPConfig, embedding_frequencies


def sinusoidal_embedding(c_noise: torch.Tensor, config: MLPConfig) -> torch.Tensor:
    """(n,) -> (n, time_embed_dim) as [cos(c f), sin(c f)]."""
    freqs = embedding_frequencies(config, torch, c_noise.dtype)
    args = c_noise[:, None] * freqs[None, :]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class MLPDenoiser(nn.Module):
    """Residual MLP with sinusoidal noise embedding.

    ``forward(x, c_noise)``: x (n, data_dim), c_noise (n,) -> (n, data_dim).
    """

    def __init__(self, config: MLPConfig):
        super().__init__()
        self.config = config
        hidden = config.hidden_dim
        self.time_in = nn.Linear(config.time_embed_dim, hidden)
        self.time_out = nn.Linear(hidden, hidden)
        self.input = nn.Linear(config.data_dim, hidden)
        self.blocks = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(config.num_blocks))
        self.output = nn.Linear(hidden, config.data_dim)

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        act = nn.functional.silu
        temb = self.time_out(act(self.time_in(sinusoidal_embedding(c_noise, self.config))))
        h = self.input(x)
        for block in self.blocks:
            h = h + block(act(h + temb))
        return self.output(act(h))


def build(config: MLPConfig, seed: int = 0, dtype: torch.dtype = torch.float32) -> MLPDenoiser:
    """A freshly initialised network; the seed fixes the initial weights."""
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        net = MLPDenoiser(config).to(dtype)
    finally:
        # Restore the global RNG so building a net has no hidden side effect.
        torch.random.set_rng_state(generator_state)
    return net


def from_numpy(
    config: MLPConfig, arrays: Mapping[str, np.ndarray], dtype: torch.dtype = torch.float32
) -> MLPDenoiser:
    """Build a network holding the given weights (checked against the scheme)."""
    check_params(arrays, config)
    net = MLPDenoiser(config).to(dtype)
    net.load_state_dict(numpy_to_torch(arrays, dtype=dtype), strict=True)
    return net
