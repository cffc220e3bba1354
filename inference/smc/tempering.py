"""Adaptive tempering: the next inverse temperature by bisection on the ESS.

Host-side NumPy on the (N,) log-likelihoods of the particles; shared by
both backends.
"""
from __future__ import annotations

import numpy as np

from ppl.errors import MethodError

from .estimates import ess_of


def next_temperature(log_lik: np.ndarray, beta: float, target_ess: float,
                     tol: float = 1e-10, max_iter: int = 100) -> float:
    """The largest next temperature in (beta, 1] whose reweighting keeps the ESS.

    Args:
        log_lik: (N,) log-likelihood of each particle; -inf is allowed.
        beta: current inverse temperature in [0, 1).
        target_ess: ESS to keep, as a fraction of N in (0, 1).

    Returns:
        The new inverse temperature; 1.0 when the whole remaining step keeps the ESS.
    """
    log_lik = np.where(np.isneginf(log_lik), -np.inf, log_lik)
    if not np.any(np.isfinite(log_lik)):
        raise MethodError(f"every particle has log-likelihood -inf at temperature {beta:.3g}; "
                          "the prior puts no mass where the data are possible")
    target = target_ess * len(log_lik)

    def ess(delta: float) -> float:
        return ess_of(delta * log_lik)

    if ess(1.0 - beta) >= target:
        return 1.0
    low, high = 0.0, 1.0 - beta
    for _ in range(max_iter):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if ess(mid) >= target else (low, mid)
        if high - low < tol:
            break
    # Particles with -inf log-likelihood die at any positive step, so the ESS
    # may sit below target however small the step: take the smallest step then.
    return min(1.0, beta + max(low, tol))
