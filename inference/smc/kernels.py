"""The registry of SMC rejuvenation kernels."""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

from . import hmc, rwm
from .adapter import ArrayAdapter
from .batched import ChainBatched
from .config import SMCConfig


@dataclass(frozen=True)
class KernelSpec:
    """How SMC uses a kernel; every array has a leading chain dim C.

    Attributes:
        init: (chain-batched target, position (C, N, D)) -> state.
        make_step: (chain-batched target, config, xp) -> step(normal (C, N, D),
            uniform (C, N), state, params) -> (state, info).
        params: (xp, position (C, N, D), beta (C,), scale (C,)) -> kernel params.
        target_accept: acceptance rate the scale is tuned toward.
        initial_scale: the scale at the first temperature.
        max_scale: cap of the tuned scale (a leapfrog step beyond ~2 in
            whitened units is unstable whatever the acceptance said before).
    """

    init: Callable[[ChainBatched, Any], Any]
    make_step: Callable[[ChainBatched, SMCConfig, ArrayAdapter], Callable[..., Any]]
    params: Callable[..., Any]
    target_accept: float
    initial_scale: float = 1.0
    max_scale: float = float("inf")


KERNELS: dict[str, KernelSpec] = {
    "rwm": KernelSpec(
        init=lambda target, x: rwm.init(target.log_parts, x),
        make_step=lambda target, cfg, xp: partial(rwm.step, target.log_parts, xp),
        params=rwm.params_from_particles, target_accept=0.3),
    "hmc": KernelSpec(
        init=lambda target, x: hmc.init(target.log_parts_and_grads, x),
        make_step=lambda target, cfg, xp: partial(
            hmc.step, target.log_parts_and_grads, cfg.num_leapfrog, xp),
        params=hmc.params_from_particles, target_accept=0.65, initial_scale=0.5,
        max_scale=1.2),
}
