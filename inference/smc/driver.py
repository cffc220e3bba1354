"""Adaptive-tempering SMC over a batch of independent runs, written once for both backends.

Tempered targets p(x) L(x)^beta go from the prior (beta = 0) to the posterior
(beta = 1). Each step picks the next beta so the reweighted ESS stays at
``target_ess * N``, adds log mean_i L(x_i)^(beta' - beta) to the log evidence,
resamples every step, then moves the particles with ``mcmc_steps`` kernel
steps tuned from the particle cloud.

All C runs ("chains") advance together as (C, N, D) arrays with their own
temperatures: a step costs one batched density evaluation per move for every
chain, and a finished chain stops changing (its updates are masked). The
cheap (C, N) bookkeeping (tempering, resampling, kernel tuning, records)
runs on the host in float64 (:mod:`inference.smc.adapter_numpy`); the moves
are one compiled call per step on JAX.
"""
from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import numpy as np

from ppl.errors import MethodError

from .adapter import ArrayAdapter
from .adapter_numpy import HOST
from .batched import ChainBatched, ess, logsumexp, reweight, select
from .config import SMCConfig
from .kernels import KERNELS
from .noise import ChainNoise
from .resampling import resample_each
from .tempering import next_temperature

# Rows of SMCResult.records, per chain and tempering step.
RECORDS = ("temperatures", "ess", "acceptance", "log_increments")


class SMCResult(NamedTuple):
    """C finished runs.

    Attributes:
        particles: final kernel state on the device, position (C, N, D), log_lik (C, N).
        steps: (C,) tempering steps each chain took.
        records: (len(RECORDS), C, max(steps)), NaN after a chain's last step.
    """

    particles: Any
    steps: np.ndarray
    records: np.ndarray


def _check(log_lik: np.ndarray, beta: float, steps: int, cfg: SMCConfig) -> None:
    """Raises before a step that would fail or give a wrong evidence."""
    if steps >= cfg.max_steps:
        raise MethodError(f"SMC did not reach temperature 1 within max_steps={cfg.max_steps} "
                          f"tempering steps (stuck at {beta:.3g}); the likelihood is too "
                          "peaked for this many particles: raise particles or max_steps")
    bad = np.isnan(log_lik) | np.isposinf(log_lik)
    if bad.any():
        raise MethodError(f"{int(bad.sum())} of {len(log_lik)} particles have a NaN or +inf "
                          f"log-likelihood at temperature {beta:.3g}; the evidence would be "
                          "wrong. Check the model's parameters for invalid values")
    if np.all(np.isneginf(log_lik)):
        raise MethodError(f"every particle has log-likelihood -inf at temperature {beta:.3g}; "
                          "the prior puts no mass where the data are possible")


def make_advance(xp: ArrayAdapter, target: ChainBatched, cfg: SMCConfig) -> Callable[..., Any]:
    """``advance(particles, ancestors, params, normal, uniform, active) -> (particles,
    acceptance (C,))``: resample, then ``mcmc_steps`` kernel moves; compiled once on JAX.

    ``normal`` (C, M, N, D) and ``uniform`` (C, M, N) hold the moves' random numbers;
    chains where ``active`` (C,) is False come back unchanged.
    """
    move = KERNELS[cfg.kernel].make_step(target, cfg, xp)

    def advance(particles: Any, ancestors: Any, params: Any, normal: Any, uniform: Any,
                active: Any) -> tuple[Any, Any]:
        start = type(particles)(*(xp.take_each(f, ancestors) for f in particles))

        def one(carry: tuple[Any, Any, Any]) -> tuple[Any, Any, Any]:
            i, state, accepted = carry
            state, info = move(normal[:, i], uniform[:, i], state, params)
            return i + 1, state, accepted + xp.ns.mean(info.acceptance, axis=-1)

        zero = xp.ns.zeros_like(start.log_lik[:, 0])
        _, moved, accepted = xp.fori_loop(normal.shape[1], one, (0, start, zero))
        return select(xp.ns, active, moved, particles), accepted / normal.shape[1]

    return xp.jit(advance)


def _temper(cfg: SMCConfig, log_lik: np.ndarray, beta: np.ndarray, active: np.ndarray,
            steps: np.ndarray, uniforms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Host step: checks, next temperatures (C,), incremental log weights and ancestors (C, N)."""
    for c in np.flatnonzero(active):
        _check(log_lik[c], beta[c], steps[c], cfg)
    new_beta = np.where(active, next_temperature(HOST, log_lik, beta, cfg.target_ess), beta)
    log_w = reweight(np, log_lik, new_beta - beta)
    return new_beta, log_w, resample_each(HOST, cfg.resampling, uniforms, log_w)


def run_chains(xp: ArrayAdapter, target: ChainBatched, cfg: SMCConfig, position: Any,
               seeds: list[int], progress: Callable[[float, float], None] | None = None
               ) -> SMCResult:
    """Runs chains from prior particles (C, N, D) at temperature 0 until each reaches 1.

    Chain c draws its random numbers from ``seeds[c]`` alone, so it gives the same
    result whichever chains run beside it. Raises MethodError when a chain fails.
    """
    kernel, advance = KERNELS[cfg.kernel], make_advance(xp, target, cfg)
    particles = xp.jit(lambda x: kernel.init(target, x))(position)
    chains, n, dim = position.shape
    noise, dtype = ChainNoise(seeds), xp.to_numpy(particles.log_lik).dtype
    beta, scale = np.zeros(chains), np.full(chains, kernel.initial_scale)
    steps, records = np.zeros(chains, int), np.full((len(RECORDS), chains, cfg.max_steps), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):  # -inf log-likelihoods are expected
        while (active := beta < 1.0).any():
            draws = noise.draw(cfg.num_mcmc_steps, n, dim, dtype)
            log_lik = xp.to_numpy(particles.log_lik).astype(float)
            new_beta, log_w, ancestors = _temper(cfg, log_lik, beta, active, steps, draws.resample)
            cloud = HOST.take_each(xp.to_numpy(particles.position).astype(float), ancestors)
            params = kernel.params(HOST, cloud, new_beta, scale)
            particles, acceptance = advance(
                particles, xp.asarray(ancestors), type(params)(*map(xp.asarray, params)),
                xp.asarray(draws.normal), xp.asarray(draws.uniform), xp.asarray(active))
            acceptance = xp.to_numpy(acceptance).astype(float)
            tuned = scale * np.exp(np.clip(2 * (acceptance - kernel.target_accept), -1, 1))
            scale = np.where(active, np.minimum(tuned, kernel.max_scale), scale)
            row = [new_beta, ess(np, log_w), acceptance, logsumexp(np, log_w) - math.log(n)]
            records[:, active, steps[active]] = np.stack(row)[:, active]
            steps += active
            if progress is not None:
                progress(float((new_beta - beta).sum()), float(new_beta.min()))
            beta = new_beta
    return SMCResult(particles, steps, records[:, :, :steps.max()])


def unique_fraction(position: np.ndarray) -> np.ndarray:
    """(C,) fraction of distinct particles of each chain of (C, N, D) positions."""
    return np.array([len(np.unique(p, axis=0)) / len(p) for p in position])
