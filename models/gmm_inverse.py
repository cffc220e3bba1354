"""The exact Gaussian-mixture inverse problem used to benchmark diffusion posterior samplers.

Each problem is fixed by (d_x, d_y, seed) and has a closed-form posterior and
evidence (``models.gmm_linear``), so a sampler's error can be measured against
exact samples:

* prior: 25 components N(mu_k, I) with means on the 2-D grid (-8i, -8j),
  i, j in {-2, ..., 2}, tiled over d_x dimensions
  (mu_k = tile((-8i, -8j), d_x / 2)), weights proportional to z_k^2, z ~ N(0, 1);
* forward operator A (d_y, d_x): the thin SVD U S V^T of a standard Gaussian
  matrix, with S replaced by d_y sorted U(0, 1) draws (descending);
* noise sigma_y = U(0, 1) * (largest singular value);
* y = A x* + sigma_y eps, with x* drawn from the prior.

This is the mixture benchmark of Cardoso et al. (MCGdiff, 2023) used by the
twisted-diffusion and MCGdiff papers. The draws happen in the order listed
above from ``numpy.random.default_rng(seed)``.
"""
from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np

from models.gmm import GaussianMixturePrior
from models.gmm_linear import shared_diagonal_posterior_samples
from ppl.errors import ShapeError

GRID = (-2, -1, 0, 1, 2)
SPACING = 8.0


def grid_means(d_x: int) -> np.ndarray:
    """The 25 component means, shape (25, d_x); d_x must be even."""
    if d_x < 2 or d_x % 2:
        raise ShapeError(f"the mixture benchmark needs an even d_x >= 2, got {d_x}")
    pairs = np.array([(-SPACING * i, -SPACING * j) for i, j in itertools.product(GRID, GRID)])
    return np.tile(pairs, (1, d_x // 2))


@dataclass(frozen=True, eq=False)
class GMMInverseProblem:
    """One benchmark instance with its exact answer.

    Attributes:
        d_x, d_y, seed: what fixes the instance.
        prior: the mixture prior over x, dimension d_x.
        A: forward operator, shape (d_y, d_x).
        singular_values: those of A, shape (d_y,), descending, in (0, 1).
        sigma_y: observation noise standard deviation, > 0.
        x_star: the prior draw that generated y, shape (d_x,).
        y: the observation, shape (d_y,).

    The exact posterior and evidence are computed on first use (the posterior
    needs 25 inversions and eigendecompositions of (d_x, d_x) matrices, close to
    a minute at d_x = 800); ``posterior_samples`` does not need it.
    """

    d_x: int
    d_y: int
    seed: int
    prior: GaussianMixturePrior
    A: np.ndarray
    singular_values: np.ndarray
    sigma_y: float
    x_star: np.ndarray
    y: np.ndarray

    @functools.cached_property
    def posterior(self) -> GaussianMixturePrior:
        """Exact p(x | y), a mixture of 25 full-covariance Gaussians."""
        return self.prior.posterior_given_linear_gaussian(self.A, self.sigma_y, self.y)

    @functools.cached_property
    def log_evidence(self) -> float:
        """Exact log p(y)."""
        return self.prior.log_marginal_likelihood(self.A, self.sigma_y, self.y)

    def posterior_samples(self, n: int, seed: int = 0) -> np.ndarray:
        """Exact posterior draws, shape (n, d_x).

        The components share the covariance I, so Matheron's rule
        (``models.gmm_linear.shared_diagonal_posterior_samples``) draws them in
        O(n d_x d_y) without building ``posterior`` (no (d_x, d_x) factorisation).
        """
        rng = np.random.default_rng(seed)
        draws = shared_diagonal_posterior_samples(self.prior, self.A, self.sigma_y, self.y, n, rng)
        return sample_by_component(self.posterior, n, rng) if draws is None else draws

    def log_likelihood(self, x: np.ndarray) -> np.ndarray:
        """log N(y; A x, sigma_y^2 I) for x of shape (n, d_x), shape (n,)."""
        resid = (self.y[None] - np.asarray(x) @ self.A.T) / self.sigma_y
        return -0.5 * np.sum(resid**2, axis=1) - self.d_y * np.log(np.sqrt(2 * np.pi) * self.sigma_y)


def sample_by_component(mixture: GaussianMixturePrior, n: int, rng: np.random.Generator) -> np.ndarray:
    """Exact mixture draws, shape (n, d), one matmul per component.

    ``GaussianMixturePrior.sample`` gathers a (d, d) eigenbasis per draw, which
    needs n * d^2 floats (48 GiB for 10 000 draws at d = 800); grouping the draws
    by component needs only the K bases it already holds.
    """
    which = rng.choice(mixture.num_components, size=n, p=mixture.weights)
    out = np.empty((n, mixture.dim))
    for k in np.unique(which):
        rows = np.flatnonzero(which == k)
        eps = rng.standard_normal((len(rows), mixture.dim)) * np.sqrt(mixture._eigvals[k])
        out[rows] = mixture.means[k] + eps @ mixture._eigvecs[k].T
    return out


def _operator(d_x: int, d_y: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    u, _, vt = np.linalg.svd(rng.standard_normal((d_y, d_x)), full_matrices=False)
    s = np.sort(rng.uniform(0.0, 1.0, size=d_y))[::-1]
    return (u * s) @ vt, s


def make_gmm_inverse_problem(d_x: int = 8, d_y: int = 1, seed: int = 0) -> GMMInverseProblem:
    """Builds the instance (d_x, d_y, seed); deterministic.

    Args:
        d_x: dimension of x, even, >= 2.
        d_y: dimension of y, 1 <= d_y <= d_x.
        seed: seed of every random draw.
    """
    means = grid_means(d_x)
    if not 1 <= d_y <= d_x:
        raise ShapeError(f"the mixture benchmark needs 1 <= d_y <= d_x = {d_x}, got d_y = {d_y}")
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(len(means))
    prior = GaussianMixturePrior.isotropic(z**2 / np.sum(z**2), means, 1.0)
    A, s = _operator(d_x, d_y, rng)
    sigma_y = float(rng.uniform(0.0, 1.0) * s[0])
    x_star = prior.sample(1, rng)[0]
    y = A @ x_star + sigma_y * rng.standard_normal(d_y)
    return GMMInverseProblem(d_x, d_y, seed, prior, A, s, sigma_y, x_star, y)
