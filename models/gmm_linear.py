"""Exact conditioning of a Gaussian mixture on a linear-Gaussian observation.

For y = A x + sigma_y eps and x ~ sum_k w_k N(mu_k, Sigma_k), the posterior is
sum_k w'_k N(m_k, P_k^-1) with

    P_k  = Sigma_k^-1 + A^T A / sigma_y^2
    m_k  = P_k^-1 (Sigma_k^-1 mu_k + A^T y / sigma_y^2)
    w'_k ∝ w_k N(y; A mu_k, A Sigma_k A^T + sigma_y^2 I).

The information form keeps every posterior covariance positive definite
(Sigma_k^-1 comes from the stored eigen-decomposition). numpy float64 only:
these are reference answers for tests and benchmarks.
"""
from __future__ import annotations

import numpy as np

from ppl.errors import ParameterError


def _check(prior, A, sigma_y, y):
    A = np.atleast_2d(np.asarray(A, dtype=np.float64))
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if A.shape != (y.shape[0], prior.dim):
        raise ParameterError(f"A must have shape ({y.shape[0]}, {prior.dim}), got {A.shape}")
    if not (np.isfinite(sigma_y) and sigma_y > 0):
        raise ParameterError(f"sigma_y must be positive and finite, got {sigma_y}")
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(y))):
        raise ParameterError("A and y must be finite")
    return A, float(sigma_y), y


def _component_log_evidence(prior, A, sigma_y, y) -> np.ndarray:
    """log N(y; A mu_k, A Sigma_k A^T + sigma_y^2 I) per component, shape (K,)."""
    cov_y = A @ prior.covariances @ A.T + sigma_y**2 * np.eye(len(y))  # (K, m, m)
    chol = np.linalg.cholesky(cov_y)
    resid = y[None, :] - prior.means @ A.T                              # (K, m)
    white = np.linalg.solve(chol, resid[..., None])[..., 0]
    log_det = 2.0 * np.sum(np.log(np.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)
    return -0.5 * (np.sum(white**2, axis=-1) + log_det + len(y) * np.log(2 * np.pi))


def _log_joint(prior, A, sigma_y, y) -> np.ndarray:
    """log w_k + log N(y; A mu_k, A Sigma_k A^T + sigma_y^2 I), shape (K,) (checked arguments)."""
    return np.log(prior.weights) + _component_log_evidence(prior, A, sigma_y, y)


def linear_gaussian_evidence(prior, A, sigma_y, y) -> float:
    """log p(y) under the mixture prior and the linear-Gaussian likelihood."""
    log_joint = _log_joint(prior, *_check(prior, A, sigma_y, y))
    top = log_joint.max()
    return float(top + np.log(np.sum(np.exp(log_joint - top))))


def linear_gaussian_posterior(prior, A, sigma_y, y):
    """Exact posterior mixture p(x | y); see the module docstring."""
    from models.gmm import GaussianMixturePrior

    A, sigma_y, y = _check(prior, A, sigma_y, y)
    vecs, lam = prior._eigvecs, prior._eigvals
    prior_precision = np.einsum("kij,kj,klj->kil", vecs, 1.0 / lam, vecs)
    precision = prior_precision + (A.T @ A / sigma_y**2)[None]
    cov = np.linalg.inv(precision)
    cov = 0.5 * (cov + np.swapaxes(cov, -1, -2))
    info = np.einsum("kij,kj->ki", prior_precision, prior.means) + (A.T @ y / sigma_y**2)[None]
    means = np.einsum("kij,kj->ki", cov, info)
    log_w = _log_joint(prior, A, sigma_y, y)
    weights = np.exp(log_w - log_w.max())
    keep = weights > 0  # components whose weight underflows contribute nothing
    return GaussianMixturePrior(weights[keep] / weights[keep].sum(), means[keep], cov[keep])


def posterior_component_weights(prior, A, sigma_y, y) -> np.ndarray:
    """Posterior weights w'_k, shape (K,), indexed like the prior's components."""
    log_w = _log_joint(prior, *_check(prior, A, sigma_y, y))
    weights = np.exp(log_w - log_w.max())
    return weights / weights.sum()


def shared_diagonal_posterior_samples(prior, A, sigma_y, y, n: int, rng: np.random.Generator):
    """Exact posterior draws (n, d) by Matheron's rule, or None unless every Sigma_k is one diagonal D.

    With a shared D every component has the posterior covariance
    D - G A D, G = D A^T (A D A^T + sigma_y^2 I)^-1 (d, m), a rank-m update, so
    a prior draw x ~ N(mu_k, D) and e ~ N(0, sigma_y^2 I) give the posterior
    draw x + G (y - A x - e): O(n d m) and no (d, d) factorisation.
    """
    if not prior._shared_diagonal:
        return None
    A, sigma_y, y = _check(prior, A, sigma_y, y)
    var = prior._eigvals[0]
    gain = (var[:, None] * A.T) @ np.linalg.inv((A * var) @ A.T + sigma_y**2 * np.eye(len(y)))
    which = rng.choice(prior.num_components, size=n, p=posterior_component_weights(prior, A, sigma_y, y))
    x = prior.means[which] + rng.standard_normal((n, prior.dim)) * np.sqrt(var)
    e = sigma_y * rng.standard_normal((n, len(y)))
    return x + (y[None] - x @ A.T - e) @ gain.T
