"""Configuration of sequential Monte Carlo ("smc")."""
from __future__ import annotations

from dataclasses import dataclass

from ppl.errors import MethodError

KERNEL_NAMES = ("rwm", "hmc")
RESAMPLING_NAMES = ("systematic", "stratified", "multinomial")


@dataclass(frozen=True)
class SMCConfig:
    """Settings of adaptive-tempering SMC.

    Attributes:
        particles: particles per run (N).
        chains: independent SMC runs; their spread gives the Monte Carlo
            standard error of the log evidence, and each run is one chain of
            the returned draws.
        kernel: rejuvenation kernel, "rwm" (random-walk Metropolis) or "hmc".
        mcmc_steps: kernel steps per temperature (None: 10 for rwm, 3 for hmc).
        num_leapfrog: leapfrog steps per HMC transition.
        resampling: "systematic", "stratified" or "multinomial".
        target_ess: ESS kept at each tempering step, as a fraction of N.
        max_steps: tempering steps allowed before the run is declared collapsed.
        seed: random seed.
        progress: show a progress bar over the temperature.
        device: "cpu" or "cuda".
    """

    particles: int = 1000
    chains: int = 4
    kernel: str = "rwm"
    mcmc_steps: int | None = None
    num_leapfrog: int = 10
    resampling: str = "systematic"
    target_ess: float = 0.5
    max_steps: int = 500
    seed: int = 0
    progress: bool = True
    device: str = "cpu"

    def __post_init__(self) -> None:
        for name in ("particles", "chains", "num_leapfrog", "max_steps"):
            if getattr(self, name) < 1:
                raise MethodError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.particles < 2:
            raise MethodError("particles must be >= 2 to resample")
        _choice("kernel", self.kernel, KERNEL_NAMES)
        _choice("resampling", self.resampling, RESAMPLING_NAMES)
        if not 0 < self.target_ess < 1:
            raise MethodError(f"target_ess must be in (0, 1), got {self.target_ess}")
        if self.mcmc_steps is not None and self.mcmc_steps < 1:
            raise MethodError(f"mcmc_steps must be >= 1, got {self.mcmc_steps}")

    @property
    def num_mcmc_steps(self) -> int:
        return self.mcmc_steps if self.mcmc_steps is not None else (
            10 if self.kernel == "rwm" else 3)


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise MethodError(f"{name} must be one of {', '.join(allowed)}, got '{value}'")
