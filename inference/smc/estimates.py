"""Monte Carlo estimates from log weights: ESS and log-mean-exp with its standard error."""
from __future__ import annotations

import numpy as np
from scipy.special import logsumexp


def ess_of(log_weights: np.ndarray) -> float:
    """Effective sample size 1 / sum(w_i^2) of normalized weights exp(log_weights) (N,)."""
    return float(np.exp(2 * logsumexp(log_weights) - logsumexp(2 * log_weights)))


def log_mean_exp(log_values: np.ndarray) -> tuple[float, float]:
    """log(mean(exp(x))) and its standard error by the delta method.

    Args:
        log_values: (n,) independent log estimates, e.g. log importance weights
            or the log evidence of independent SMC runs.

    Returns:
        (estimate, se); se is NaN for n < 2 and inf when every value is -inf.
    """
    x = np.asarray(log_values, dtype=float)
    n = x.size
    estimate = float(logsumexp(x) - np.log(n))
    if not np.isfinite(estimate) or n < 2:
        return estimate, (float("nan") if n < 2 else float("inf"))
    ratio = np.exp(x - x.max())
    # se(log m) ~= se(m) / m for the mean m of the exponentiated values.
    return estimate, float(ratio.std(ddof=1) / np.sqrt(n) / ratio.mean())
