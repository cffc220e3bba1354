"""Configuration of particle filters and particle-marginal Metropolis-Hastings ("pmmh")."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ppl.errors import MethodError

from ..smc.config import RESAMPLING_NAMES

PROPOSAL_NAMES = ("bootstrap", "optimal")


@dataclass(frozen=True)
class FilterConfig:
    """Settings of one particle filter run.

    Attributes:
        num_particles: particles N.
        proposal: "bootstrap" (the model's transition), "optimal" (the locally
            optimal Gaussian proposal for a Normal transition with a Normal
            observation, exact for linear-Gaussian observations), or a function
            ``proposal(carry_prev, y_t, params) -> distribution`` (NumPyro's on
            backend "numpyro", torch/Pyro's on backend "pyro") of one
            particle's state site (``y_t``: the observed value at t, or a dict
            of them when the step observes several sites; ``params``: static
            site name -> value).
        proposal_site: the body site the proposal draws (None: the only latent).
        resampling: "systematic", "stratified" or "multinomial".
        ess_threshold: resample when the ESS falls below this fraction of N.
        smoothing_draws: trajectories drawn by backward simulation (0: none).
        seed: random seed.
    """

    num_particles: int = 1000
    proposal: str | Callable[..., Any] = "bootstrap"
    proposal_site: str | None = None
    resampling: str = "systematic"
    ess_threshold: float = 0.5
    smoothing_draws: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.num_particles < 2:
            raise MethodError(f"num_particles must be >= 2, got {self.num_particles}")
        if not callable(self.proposal) and self.proposal not in PROPOSAL_NAMES:
            raise MethodError(f"proposal must be one of {', '.join(PROPOSAL_NAMES)} or a "
                              f"function, got {self.proposal!r}")
        if self.resampling not in RESAMPLING_NAMES:
            raise MethodError(f"resampling must be one of {', '.join(RESAMPLING_NAMES)}, "
                              f"got '{self.resampling}'")
        if not 0 < self.ess_threshold <= 1:
            raise MethodError(f"ess_threshold must be in (0, 1], got {self.ess_threshold}")
        if self.smoothing_draws < 0:
            raise MethodError(f"smoothing_draws must be >= 0, got {self.smoothing_draws}")


@dataclass(frozen=True)
class PMMHConfig:
    """Settings of particle-marginal Metropolis-Hastings over static parameters.

    Random-walk Metropolis in the unconstrained space of the static latents,
    with the particle filter's unbiased likelihood estimate in the acceptance
    ratio; the step size adapts during warmup towards ``target_accept``.

    Attributes:
        chains: independent chains (vectorized).
        warmup: adaptation iterations per chain (discarded).
        draws: kept iterations per chain.
        num_particles: particles per likelihood estimate.
        step_size: initial random-walk scale (unconstrained space).
        target_accept: acceptance rate the warmup adapts the step size to.
        proposal, proposal_site, resampling, ess_threshold: as in :class:`FilterConfig`.
        seed: random seed.
        progress: accepted for API symmetry; the chains run in one compiled loop.
        device: "cpu" or "cuda".
    """

    chains: int = 4
    warmup: int = 500
    draws: int = 1000
    num_particles: int = 200
    step_size: float = 0.2
    target_accept: float = 0.3
    proposal: str | Callable[..., Any] = "bootstrap"
    proposal_site: str | None = None
    resampling: str = "systematic"
    ess_threshold: float = 0.5
    seed: int = 0
    progress: bool = True
    device: str = "cpu"

    def __post_init__(self) -> None:
        for name in ("chains", "draws"):
            if getattr(self, name) < 1:
                raise MethodError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.warmup < 0 or self.step_size <= 0:
            raise MethodError("warmup must be >= 0 and step_size > 0")
        if not 0 < self.target_accept < 1:
            raise MethodError(f"target_accept must be in (0, 1), got {self.target_accept}")
        self.filter_config()  # checks the filter settings

    def filter_config(self, seed: int = 0) -> FilterConfig:
        return FilterConfig(num_particles=self.num_particles, proposal=self.proposal,
                            proposal_site=self.proposal_site, resampling=self.resampling,
                            ess_threshold=self.ess_threshold, seed=seed)
