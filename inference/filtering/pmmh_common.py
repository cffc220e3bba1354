"""Backend-neutral pieces of PMMH: the warmup schedule, the step-size update, the result.

Both drivers (:mod:`.pmmh` in JAX, :mod:`.pmmh_torch` in torch) run the same
random-walk Metropolis with the same adaptation and return the same
:class:`~inference.posterior.Posterior` through :func:`make_posterior`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..posterior import Posterior
from .config import PMMHConfig


def adapt_rates(cfg: PMMHConfig) -> np.ndarray:
    """(warmup + draws,) step-size learning rates: 1/sqrt(1 + i) in warmup, 0 after.

    The decaying rate (a Robbins-Monro schedule) lets the step size settle
    before the kept draws, where it is frozen so the chain stays Markov.
    """
    i = np.arange(cfg.warmup + cfg.draws)
    return np.where(i < cfg.warmup, 1.0 / np.sqrt(1.0 + i), 0.0)


def adapted_log_step(log_step: Any, rate: Any, accept_prob: Any, target_accept: float) -> Any:
    """Next log step size: up when accepting more often than ``target_accept``, else down."""
    return log_step + rate * (accept_prob - target_accept)


def make_posterior(program: Any, cfg: PMMHConfig, samples: dict[str, np.ndarray],
                   accepted: np.ndarray, log_likelihood: np.ndarray, log_target: np.ndarray,
                   step_size: np.ndarray, sampling_time: float) -> Posterior:
    """Wraps the kept draws of either driver.

    Args:
        program: the compiled program.
        cfg: the PMMH settings.
        samples: static site name -> constrained draws (chains, draws, *shape).
        accepted: (chains, draws) whether each kept iteration accepted its proposal.
        log_likelihood: (chains, draws) PF log-likelihood estimate of the current state.
        log_target: (chains, draws) its log prior + log-Jacobian + log-likelihood estimate.
        step_size: (chains,) final random-walk scale.
        sampling_time: seconds spent running the chains.
    """
    stats = {"acceptance_rate": np.asarray(accepted).astype(float),
             "log_likelihood": np.asarray(log_likelihood), "lp": np.asarray(log_target)}
    notes = []
    rate = float(stats["acceptance_rate"].mean())
    if rate < 0.05:
        notes.append(f"PMMH accepted only {rate:.1%} of proposals; the PF likelihood may be "
                     "too noisy (raise num_particles) or step_size too large")
    return Posterior(samples=samples, sample_stats=stats, method="pmmh",
                     backend=program.backend_name, config=cfg,
                     timings={"sampling": sampling_time}, program=program, notes=notes,
                     extras={"step_size": np.asarray(step_size),
                             "acceptance_rate": stats["acceptance_rate"].mean(axis=1)})
