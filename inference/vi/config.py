"""Configuration of stochastic variational inference ("svi")."""
from __future__ import annotations

from dataclasses import dataclass

from ppl.errors import MethodError

GUIDE_NAMES = ("normal", "mvn", "lowrank", "flow")
OBJECTIVE_NAMES = ("elbo", "iwelbo")
SCHEDULE_NAMES = ("constant", "exponential", "cosine")


@dataclass(frozen=True)
class SVIConfig:
    """Settings of SVI with an automatic guide.

    Attributes:
        guide: "normal" (mean-field), "mvn" (full-rank) or "lowrank"
            (low-rank plus diagonal) Gaussian on the unconstrained space, or
            "flow": a Gaussian pushed through inverse autoregressive flows
            (the backends' AutoIAFNormal; needs at least 2 latent dimensions).
        rank: rank of the "lowrank" guide (None: about sqrt of the dimension).
        num_flows: number of IAF transforms of the "flow" guide.
        objective: "elbo" or "iwelbo" (importance-weighted ELBO, Renyi alpha=0).
        num_particles: Monte Carlo particles per gradient estimate (the number
            of importance samples K for "iwelbo").
        steps: maximum optimisation steps.
        learning_rate: Adam's initial learning rate.
        schedule: learning-rate schedule over ``steps``: "constant",
            "exponential" (decays to 10%) or "cosine" (decays to 1%).
        tol: stop when the relative change of the smoothed loss between two
            consecutive windows falls below this (0 disables).
        window: steps per smoothing window of the convergence check.
        draws: guide draws kept in the Posterior.
        seed: random seed.
        progress: show a progress bar with the loss.
        device: "cpu" or "cuda".
    """

    guide: str = "normal"
    rank: int | None = None
    num_flows: int = 2
    objective: str = "elbo"
    num_particles: int = 1
    steps: int = 5000
    learning_rate: float = 0.01
    schedule: str = "exponential"
    tol: float = 1e-4
    window: int = 200
    draws: int = 1000
    seed: int = 0
    progress: bool = True
    device: str = "cpu"

    def __post_init__(self) -> None:
        _choice("guide", self.guide, GUIDE_NAMES)
        _choice("objective", self.objective, OBJECTIVE_NAMES)
        _choice("schedule", self.schedule, SCHEDULE_NAMES)
        for name in ("num_particles", "steps", "draws", "window"):
            if getattr(self, name) < 1:
                raise MethodError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.objective == "iwelbo" and self.num_particles < 2:
            raise MethodError("objective 'iwelbo' needs num_particles >= 2 importance samples")
        if self.rank is not None and self.rank < 1:
            raise MethodError(f"rank must be >= 1, got {self.rank}")
        if self.learning_rate <= 0 or self.tol < 0:
            raise MethodError("learning_rate must be > 0 and tol >= 0")


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise MethodError(f"{name} must be one of {', '.join(allowed)}, got '{value}'")
