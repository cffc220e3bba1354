"""Importance sampling from the prior, registered as "is".

Weights are the likelihood of prior draws, so the estimate of the evidence
is unbiased and needs no gradients, and discrete latents are fine; it is
only efficient when the posterior is not much narrower than the prior (the
ESS, reported in the notes, says how much). Draws are resampled to equal
weights so the Posterior looks like any other.
"""
from __future__ import annotations

import importlib
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ppl.errors import MethodError

from .draws import with_deterministic
from .posterior import Posterior
from .registry import Capabilities, MethodSpec, register
from .smc.adapter import get_adapter
from .smc.estimates import ess_of, log_mean_exp
from .smc.resampling import RESAMPLERS
from .smc.target import TARGETS

# Fewer effective samples than this and the estimate is not trustworthy.
MIN_ESS = 50


@dataclass(frozen=True)
class ISConfig:
    """Settings of prior importance sampling.

    Attributes:
        proposals: prior draws weighted.
        draws: equally weighted draws kept (systematic resampling).
        seed: random seed.
        progress: unused (one vectorized pass); kept for a uniform interface.
        device: "cpu" or "cuda".
    """

    proposals: int = 10_000
    draws: int = 1000
    seed: int = 0
    progress: bool = True
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.proposals < 2 or self.draws < 1:
            raise MethodError("proposals must be >= 2 and draws >= 1")


def run_is(program: Any, cfg: ISConfig) -> Posterior:
    """Weights prior draws by their likelihood; returns resampled draws and the evidence."""
    module = importlib.import_module(TARGETS[program.backend_name])
    xp = get_adapter(program.backend_name, cfg.device)
    start = time.perf_counter()
    latents = module.make_prior_draws(program)(cfg.seed, cfg.proposals)
    log_w = xp.to_numpy(module.make_log_lik(program)(latents)).astype(float)
    if np.isnan(log_w).any() or np.isposinf(log_w).any():
        raise MethodError("some prior draws have a NaN or +inf log-likelihood; the evidence "
                          "would be wrong")
    log_z, se = log_mean_exp(log_w)
    ess = ess_of(log_w) if np.isfinite(log_z) else 0.0
    notes = [] if ess >= MIN_ESS else [
        f"importance sampling from the prior kept only {ess:.1f} effective samples of "
        f"{cfg.proposals}; the evidence and draws are unreliable (use method='smc')"]
    for note in notes:
        warnings.warn(note, RuntimeWarning, stacklevel=3)
    keep = _resample(xp, log_w, cfg)
    samples = {k: xp.to_numpy(v)[keep][None] for k, v in latents.items()}
    return Posterior(samples=with_deterministic(program, samples, cfg.seed),
                     sample_stats={}, method="is", backend=program.backend_name, config=cfg,
                     timings={"sampling": time.perf_counter() - start}, program=program,
                     log_evidence=log_z, log_evidence_se=se, notes=notes,
                     extras={"ess": ess, "log_weights": log_w})


def _resample(xp: Any, log_w: np.ndarray, cfg: ISConfig) -> np.ndarray:
    if not np.isfinite(log_w).any():
        raise MethodError("every prior draw has likelihood zero; the prior puts no mass where "
                          "the data are possible")
    # Resampling N proposals gives N indices; take the first `draws` of a random shuffle.
    idx = xp.to_numpy(RESAMPLERS["systematic"](xp, xp.key(cfg.seed), xp.asarray(log_w)))
    return np.random.default_rng(cfg.seed).permutation(idx)[:cfg.draws]


register(MethodSpec("is", run_is, ISConfig,
                    Capabilities(discrete_latents=True, needs_gradients=False),
                    "importance sampling from the prior; gives the log evidence"))
