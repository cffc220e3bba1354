"""How good is the guide: Pareto k-hat of PSIS, and the importance-sampled evidence.

With draws z_s ~ q, the log weights log p(x, z_s) - log q(z_s) give both a
diagnostic (the Pareto shape k-hat of their upper tail; k-hat > 0.7 means
the guide misses mass the posterior has, Yao et al. 2018) and an
importance-sampling estimate of the log evidence.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..smc.estimates import ess_of, log_mean_exp

K_HAT_THRESHOLD = 0.7


def pareto_k(log_weights: np.ndarray) -> float:
    """k-hat of PSIS for log weights (S,); NaN when arviz cannot fit the tail."""
    import arviz as az

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # arviz warns on high k; we report it ourselves
        _, k = az.psislw(np.asarray(log_weights, dtype=float))
    return float(np.asarray(k))


def guide_report(log_weights: np.ndarray) -> tuple[dict[str, float], list[str]]:
    """Diagnostics of guide log weights (S,), and notes (also warned) when they are bad.

    Returns:
        ({"pareto_k", "ess", "log_evidence", "log_evidence_se"}, notes).
    """
    finite = log_weights[np.isfinite(log_weights)]
    k = pareto_k(finite) if finite.size > 10 else float("nan")
    log_z, se = log_mean_exp(log_weights)
    report = {"pareto_k": k, "ess": ess_of(log_weights), "log_evidence": log_z,
              "log_evidence_se": se}
    notes = []
    if not k <= K_HAT_THRESHOLD:
        notes.append(f"the guide fits the posterior poorly: PSIS Pareto k-hat = {k:.2f} > "
                     f"{K_HAT_THRESHOLD}; guide draws and the evidence estimate are unreliable "
                     "(try guide='mvn', more steps, or method='nuts')")
    if finite.size < log_weights.size:
        notes.append(f"{log_weights.size - finite.size} guide draws have non-finite log weights")
    for note in notes:
        warnings.warn(note, RuntimeWarning, stacklevel=4)
    return report, notes
