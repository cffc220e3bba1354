"""Sequential Monte Carlo with adaptive likelihood tempering, registered as "smc".

Independent runs are the chains of the returned Posterior; the log evidence
is the log of the mean of their evidence estimates, and its Monte Carlo
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
from .config import SMCConfig
from .driver import SMCRun, make_step, run_once
from .estimates import log_mean_exp
from .target import make_target

# A final cloud with fewer distinct particles than this fraction has degenerated.
MIN_UNIQUE_FRACTION = 0.1


def _padded(runs: list[SMCRun], field: str) -> np.ndarray:
    """Per-step stats of runs with different step counts, NaN-padded to (chain, step)."""
    rows = [getattr(r, field) for r in runs]
    out = np.full((len(rows), max(len(r) for r in rows)), np.nan)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


def _health_notes(runs: list[SMCRun], cfg: SMCConfig) -> list[str]:
    notes = []
    worst = min(r.unique_fraction for r in runs)
    if worst < MIN_UNIQUE_FRACTION:
        notes.append(f"SMC degenerated: only {worst:.1%} of final particles are distinct in "
                     "some chain; the posterior draws and evidence are unreliable (raise "
                     "particles or mcmc_steps, or use kernel='hmc')")
    low = min(r.acceptance[-1] for r in runs)
    if low < 0.05:
        notes.append(f"SMC rejuvenation acceptance fell to {low:.3f} at the final temperature")
    if cfg.chains < 2:
        notes.append("log_evidence_se is NaN: it is estimated from independent runs, so "
                     "use chains >= 2")
    return notes


def run_smc(program: Any, cfg: SMCConfig) -> Posterior:
    """Runs ``cfg.chains`` independent SMC runs and wraps them as a Posterior."""
    from tqdm.auto import tqdm

    xp, target = get_adapter(program.backend_name, cfg.device), make_target(program)
    start = time.perf_counter()
    with tqdm(total=float(cfg.chains), disable=not cfg.progress, desc="smc") as bar:
        step = make_step(xp, target, cfg)
        runs = [run_once(xp, target, step, cfg, cfg.seed + 1000003 * c, bar)
                for c in range(cfg.chains)]
    sampling = time.perf_counter() - start
    per_chain = [target.to_constrained(r.position) for r in runs]
    samples = {k: np.stack([c[k] for c in per_chain]) for k in per_chain[0]}
    log_evidence, se = log_mean_exp(np.array([r.log_evidence for r in runs]))
    notes = _health_notes(runs, cfg)
    for note in notes[:-1] if cfg.chains < 2 else notes:
        warnings.warn(note, RuntimeWarning, stacklevel=3)
    log_lik = np.stack([r.log_lik for r in runs])
    extras = {name: _padded(runs, name) for name in
              ("temperatures", "ess", "acceptance", "log_increments")}
    extras["log_evidence_per_chain"] = np.array([r.log_evidence for r in runs])
    extras["unique_fraction"] = np.array([r.unique_fraction for r in runs])
    return Posterior(samples=with_deterministic(program, samples, cfg.seed),
                     sample_stats={"log_likelihood": log_lik}, method="smc",
                     backend=program.backend_name, config=cfg,
                     timings={"sampling": sampling}, program=program,
                     log_evidence=log_evidence, log_evidence_se=se, notes=notes, extras=extras)


register(MethodSpec("smc", run_smc, SMCConfig, Capabilities(needs_gradients=False),
                    "adaptive-tempering SMC; gives the log evidence"))
