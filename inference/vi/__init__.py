"""Stochastic variational inference with automatic guides, registered as "svi".

The guide is a Gaussian on the unconstrained space (mean-field, full-rank or
low-rank plus diagonal), built by the backend's autoguide from the model.
``ppl.param`` sites are learned alongside. The returned Posterior holds guide
draws as one chain; the guide's importance weights give a PSIS k-hat
diagnostic and an importance-sampled log evidence.
"""
from __future__ import annotations

import importlib
import time
from typing import Any

import numpy as np

from ..draws import with_deterministic
from ..posterior import Posterior
from ..registry import Capabilities, MethodSpec, register
from .config import SVIConfig
from .diagnostics import guide_report

# backend -> module with `run(program, config) -> dict`; imported on first use.
BACKEND_RUNNERS = {"numpyro": "inference.vi.numpyro_svi", "pyro": "inference.vi.pyro_svi"}


def run_svi(program: Any, cfg: SVIConfig) -> Posterior:
    """Fits the guide, draws from it and wraps the draws as a one-chain Posterior."""
    runner = importlib.import_module(BACKEND_RUNNERS[program.backend_name])
    start = time.perf_counter()
    fit = runner.run(program, cfg)
    elapsed = time.perf_counter() - start
    report, notes = guide_report(fit["log_weights"])
    if fit["converged_at"] is None and cfg.tol > 0:
        notes.append(f"SVI did not converge within {cfg.steps} steps (relative change of the "
                     f"smoothed loss stayed above tol={cfg.tol})")
    samples = {k: np.asarray(v)[None] for k, v in fit["samples"].items()}
    extras = {"loss": fit["losses"], "converged_at": fit["converged_at"],
              "params": fit["params"], "guide_params": fit["guide_params"], **report}
    return Posterior(samples=with_deterministic(program, samples, cfg.seed),
                     sample_stats={"log_importance_weight": fit["log_weights"][None]},
                     method="svi", backend=program.backend_name, config=cfg,
                     timings={"sampling": elapsed}, program=program,
                     log_evidence=report["log_evidence"],
                     log_evidence_se=report["log_evidence_se"], notes=notes, extras=extras)


register(MethodSpec("svi", run_svi, SVIConfig, Capabilities(),
                    "stochastic variational inference with an automatic Gaussian guide"))
