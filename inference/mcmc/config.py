"""Configuration of the MCMC methods (NUTS and HMC)."""
from __future__ import annotations

from dataclasses import dataclass

from ppl.errors import MethodError


@dataclass(frozen=True)
class MCMCConfig:
    """Settings shared by NUTS and HMC.

    Attributes:
        chains: number of chains (vectorized on NumPyro, sequential on Pyro).
        warmup: adaptation iterations per chain (discarded).
        draws: kept iterations per chain.
        seed: random seed.
        progress: show a progress bar.
        target_accept: target acceptance probability of step-size adaptation.
        max_tree_depth: NUTS maximum tree depth.
        dense_mass: adapt a dense (True) or diagonal (False) mass matrix.
        num_steps: HMC leapfrog steps (None: trajectory_length decides).
        trajectory_length: HMC integration time when num_steps is None.
        chain_method: NumPyro only: "vectorized", "sequential" or "parallel".
        device: "cpu" or "cuda".
    """

    chains: int = 4
    warmup: int = 1000
    draws: int = 1000
    seed: int = 0
    progress: bool = True
    target_accept: float = 0.8
    max_tree_depth: int = 10
    dense_mass: bool = False
    num_steps: int | None = None
    trajectory_length: float = 2 * 3.141592653589793
    chain_method: str = "vectorized"
    device: str = "cpu"

    def __post_init__(self) -> None:
        for name in ("chains", "draws"):
            if getattr(self, name) < 1:
                raise MethodError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.warmup < 0:
            raise MethodError(f"warmup must be >= 0, got {self.warmup}")
        if not 0 < self.target_accept < 1:
            raise MethodError(f"target_accept must be in (0, 1), got {self.target_accept}")
