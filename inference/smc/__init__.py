"""Sequential Monte Carlo with adaptive likelihood tempering, registered as "smc".

Independent runs are the chains of the returned Posterior; they advance
together as one batch (see :mod:`inference.smc.driver`). The log evidence is
the log of the mean of their evidence estimates, and its Monte Carlo
standard error comes from their spread (delta method), so it needs
``chains >= 2``.
"""
from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from ..draws import with_deterministic
from ..posterior import Posterior
from ..registry import Capabilities, MethodSpec, register
from .adapter import get_adapter
from .batched import chain_batched
from .config import SMCConfig
from .driver import RECORDS, SMCResult, run_chains, unique_fraction
from .estimates import log_evidence_of_runs
from .target import make_target

# A final cloud with fewer distinct particles than this fraction has degenerated.
MIN_UNIQUE_FRACTION = 0.1


def chain_seeds(cfg: SMCConfig) -> list[int]:
    """The seed of each chain: chain c draws its prior particles and moves from it alone."""
    return [cfg.seed + 1000003 * c for c in range(cfg.chains)]


def _health_notes(extras: dict[str, np.ndarray], steps: np.ndarray, cfg: SMCConfig) -> list[str]:
    notes = []
    worst = extras["unique_fraction"].min()
    if worst < MIN_UNIQUE_FRACTION:
        notes.append(f"SMC degenerated: only {worst:.1%} of final particles are distinct in "
                     "some chain; the posterior draws and evidence are unreliable (raise "
                     "particles or mcmc_steps, or use kernel='hmc')")
    low = extras["acceptance"][np.arange(len(steps)), steps - 1].min()
    if low < 0.05:
        notes.append(f"SMC rejuvenation acceptance fell to {low:.3f} at the final temperature")
    if cfg.chains < 2:
        notes.append("log_evidence_se is NaN: it is estimated from independent runs, so "
                     "use chains >= 2")
    return notes


def _progress_bar(cfg: SMCConfig) -> tuple[Any, Any]:
    from tqdm.auto import tqdm

    bar = tqdm(total=float(cfg.chains), disable=not cfg.progress, desc="smc")

    def update(advance: float, beta: float) -> None:
        bar.update(advance)
        bar.set_postfix(beta=f"{beta:.3g}")

    return bar, (update if cfg.progress else None)


def sample_chains(program: Any, cfg: SMCConfig,
                  seeds: list[int] | None = None) -> tuple[Any, SMCResult, Any]:
    """Runs SMC chains as one batch; returns (target, result, adapter).

    Args:
        seeds: one seed per chain; default :func:`chain_seeds` (``cfg.chains`` chains).
    """
    xp, target = get_adapter(program.backend_name, cfg.device), make_target(program)
    seeds = chain_seeds(cfg) if seeds is None else seeds
    # Through the host, so the particles are placed (committed) like every later input of
    # the compiled moves, and JAX compiles them once.
    position = xp.asarray(np.stack([xp.to_numpy(target.sample_prior(s, cfg.particles))
                                    for s in seeds]))
    bar, progress = _progress_bar(cfg)
    with bar:
        final = run_chains(xp, chain_batched(xp, target), cfg, position, seeds, progress)
    return target, final, xp


def run_smc(program: Any, cfg: SMCConfig) -> Posterior:
    """Runs ``cfg.chains`` independent SMC runs and wraps them as a Posterior."""
    start = time.perf_counter()
    target, final, xp = sample_chains(program, cfg)
    sampling = time.perf_counter() - start
    steps, extras = final.steps, dict(zip(RECORDS, final.records))
    position = xp.to_numpy(final.particles.position)
    chains, n, dim = position.shape
    flat = target.to_constrained(xp.ns.reshape(final.particles.position, (chains * n, dim)))
    samples = {k: v.reshape((chains, n) + v.shape[1:]) for k, v in flat.items()}
    extras["log_evidence_per_chain"] = np.nansum(extras["log_increments"], axis=1)
    extras["unique_fraction"] = unique_fraction(position)
    log_evidence, se = log_evidence_of_runs(extras["log_evidence_per_chain"])
    notes = _health_notes(extras, steps, cfg)
    for note in notes[:-1] if cfg.chains < 2 else notes:
        warnings.warn(note, RuntimeWarning, stacklevel=3)
    return Posterior(samples=with_deterministic(program, samples, cfg.seed),
                     sample_stats={"log_likelihood": xp.to_numpy(final.particles.log_lik)},
                     method="smc", backend=program.backend_name, config=cfg,
                     timings={"sampling": sampling}, program=program,
                     log_evidence=log_evidence, log_evidence_se=se, notes=notes, extras=extras)


register(MethodSpec("smc", run_smc, SMCConfig, Capabilities(needs_gradients=False),
                    "adaptive-tempering SMC; gives the log evidence"))
