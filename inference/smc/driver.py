"""One adaptive-tempering SMC run, written once for both backends.

Tempered targets p(x) L(x)^beta go from the prior (beta = 0) to the posterior
(beta = 1). Each step picks the next beta so the reweighted ESS stays at
``target_ess * N``, adds log mean_i L(x_i)^(beta' - beta) to the log evidence,
resamples every step, then moves the particles with ``mcmc_steps`` kernel
steps tuned from the particle cloud.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np
from scipy.special import logsumexp

from ppl.errors import MethodError

from .adapter import ArrayAdapter
from .config import SMCConfig
from .estimates import ess_of
from .kernels import KERNELS
from .resampling import RESAMPLERS
from .target import Target
from .tempering import next_temperature


class SMCRun(NamedTuple):
    """The result of one run.

    Attributes:
        position: final particles (N, D), unconstrained, equally weighted.
        log_lik: their log-likelihood (N,), numpy.
        log_evidence: the run's log marginal likelihood estimate.
        temperatures, ess, acceptance, log_increments: per tempering step (T,).
        unique_fraction: fraction of distinct final particles.
    """

    position: Any
    log_lik: np.ndarray
    log_evidence: float
    temperatures: np.ndarray
    ess: np.ndarray
    acceptance: np.ndarray
    log_increments: np.ndarray
    unique_fraction: float


def _check_finite(log_lik: np.ndarray, beta: float) -> None:
    bad = np.isnan(log_lik) | np.isposinf(log_lik)
    if bad.any():
        raise MethodError(f"{int(bad.sum())} of {len(log_lik)} particles have a NaN or +inf "
                          f"log-likelihood at temperature {beta:.3g}; the evidence would be "
                          "wrong. Check the model's parameters for invalid values")


def _reweight(log_lik: np.ndarray, beta: float, new_beta: float) -> np.ndarray:
    return np.where(np.isneginf(log_lik), -np.inf, (new_beta - beta) * log_lik)


def make_step(xp: ArrayAdapter, target: Target, cfg: SMCConfig) -> Callable[..., Any]:
    """The compiled kernel step, made once and shared by all runs (JAX compiles it once)."""
    return xp.jit(KERNELS[cfg.kernel].make_step(target, cfg, xp))


def run_once(xp: ArrayAdapter, target: Target, step: Callable[..., Any], cfg: SMCConfig,
             seed: int, bar: Any = None) -> SMCRun:
    """Runs SMC from prior draws to the posterior; raises MethodError when it collapses.

    Args:
        step: from :func:`make_step`.
    """
    kernel = KERNELS[cfg.kernel]
    key = xp.key(seed)
    state = kernel.init(target, target.sample_prior(seed, cfg.particles))
    beta, scale, rows = 0.0, kernel.initial_scale, []
    while beta < 1.0:
        if len(rows) >= cfg.max_steps:
            raise MethodError(f"SMC did not reach temperature 1 within max_steps={cfg.max_steps} "
                              f"tempering steps (stuck at {beta:.3g}); the likelihood is too "
                              "peaked for this many particles: raise particles or max_steps")
        log_lik = xp.to_numpy(state.log_lik)
        _check_finite(log_lik, beta)
        new_beta = next_temperature(log_lik, beta, cfg.target_ess)
        log_w = _reweight(log_lik, beta, new_beta)
        key, k_resample, *k_moves = xp.split(key, 2 + cfg.num_mcmc_steps)
        ancestors = RESAMPLERS[cfg.resampling](xp, k_resample, xp.asarray(log_w))
        state = type(state)(*(xp.take(field, ancestors) for field in state))
        params = kernel.params(xp, xp.to_numpy(state.position), new_beta, scale)
        accepted = []
        for k in k_moves:
            state, info = step(k, state, params)
            accepted.append(float(xp.to_numpy(info.acceptance).mean()))
        acceptance = float(np.mean(accepted))
        scale = min(kernel.max_scale,
                    scale * float(np.exp(np.clip(2 * (acceptance - kernel.target_accept), -1, 1))))
        rows.append((new_beta, ess_of(log_w), acceptance, float(logsumexp(log_w) - np.log(len(log_w)))))
        if bar is not None:
            bar.update(new_beta - beta)
            bar.set_postfix(beta=f"{new_beta:.3g}", accept=f"{acceptance:.2f}")
        beta = new_beta
    temperatures, ess, acceptance, increments = (np.array(c) for c in zip(*rows))
    position = xp.to_numpy(state.position)
    unique = len(np.unique(position, axis=0)) / len(position)
    return SMCRun(state.position, xp.to_numpy(state.log_lik), float(increments.sum()),
                  temperatures, ess, acceptance, increments, unique)
