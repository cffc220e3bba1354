"""Settings every diffusion posterior sampler shares (each method subclasses it)."""
from __future__ import annotations

from dataclasses import dataclass

from ppl.errors import MethodError


@dataclass(frozen=True)
class SamplerConfig:
    """Common settings of diffusion posterior samplers.

    Attributes:
        num_steps: denoising steps on the prior's time grid.
        draws: posterior draws per chain (one batch of particles for SMC methods).
        chains: independent runs, each with its own seed.
        seed: random seed.
        progress: show a tqdm progress bar over steps.
        device: "cpu" or "cuda".
        dtype: "float32" or "float64"; None takes the backend's default float.
    """

    num_steps: int = 100
    draws: int = 1000
    chains: int = 1
    seed: int = 0
    progress: bool = True
    device: str = "cpu"
    dtype: str | None = None

    def __post_init__(self) -> None:
        for name in ("num_steps", "draws", "chains"):
            if int(getattr(self, name)) < 1:
                raise MethodError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.dtype not in (None, "float32", "float64"):
            raise MethodError(f"dtype must be 'float32', 'float64' or None, got {self.dtype!r}")

    def check_positive(self, *names: str) -> None:
        """Raises MethodError naming the first of ``names`` that is not > 0."""
        for name in names:
            if not getattr(self, name) > 0:
                raise MethodError(f"{name} must be > 0, got {getattr(self, name)}")

    def check_unit(self, *names: str) -> None:
        """Raises MethodError naming the first of ``names`` outside [0, 1]."""
        for name in names:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise MethodError(f"{name} must lie in [0, 1], got {getattr(self, name)}")
