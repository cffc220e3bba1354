"""A reference Kalman filter (NumPy) for linear-Gaussian state-space models.

Model: ``x_{-1} ~ N(m0, P0)``, ``x_t = A x_{t-1} + N(0, Q)``,
``y_t = H x_t + N(0, R)`` for t = 0..T-1 (the convention of ``ppl.markov``
with ``init=`` a distribution: the init is the carry *before* step 0). Exact
filtering moments and log-likelihood, used to check particle filters.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class KalmanResult(NamedTuple):
    """means (T, d), covs (T, d, d), log_likelihood (scalar)."""

    means: np.ndarray
    covs: np.ndarray
    log_likelihood: float


def kalman_filter(y: np.ndarray, A: np.ndarray, Q: np.ndarray, H: np.ndarray, R: np.ndarray,
                  m0: np.ndarray, P0: np.ndarray) -> KalmanResult:
    """Filters observations ``y`` (T, k) (or (T,) for k = 1); matrices as 2-D arrays."""
    A, Q, H, R = (np.atleast_2d(np.asarray(a, float)) for a in (A, Q, H, R))
    y = np.asarray(y, float).reshape(len(y), -1)
    m, P = np.atleast_1d(np.asarray(m0, float)), np.atleast_2d(np.asarray(P0, float))
    means, covs, log_lik = [], [], 0.0
    for y_t in y:
        m, P = A @ m, A @ P @ A.T + Q
        S = H @ P @ H.T + R
        resid = y_t - H @ m
        _, logdet = np.linalg.slogdet(2 * np.pi * S)
        log_lik += -0.5 * (logdet + resid @ np.linalg.solve(S, resid))
        K = np.linalg.solve(S, H @ P).T
        m, P = m + K @ resid, P - K @ S @ K.T
        means.append(m)
        covs.append(P)
    return KalmanResult(np.array(means), np.array(covs), float(log_lik))
