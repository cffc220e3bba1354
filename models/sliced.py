"""Sliced Wasserstein distance between two empirical distributions (numpy).

SW_p(mu, nu) = (E_theta W_p^p(theta#mu, theta#nu))^(1/p), theta uniform on the
unit sphere, estimated with ``num_directions`` random directions. Each 1-D
W_p is exact for the two empirical measures: their quantile functions are step
functions with jumps at i/n and j/m, so on every interval between consecutive
levels of the union {i/n} ∪ {j/m} both are constant and the integral
∫_0^1 |F^-1(q) - G^-1(q)|^p dq is a finite sum. Unequal sample counts need no
resampling.
"""
from __future__ import annotations

import numpy as np

from ppl.errors import ShapeError


def _quantile_pieces(n: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Piece lengths (L,) and the sorted-sample index of each piece in a (L,) and b (L,)."""
    levels = np.union1d(np.arange(n + 1) / n, np.arange(m + 1) / m)
    lengths = np.diff(levels)
    mid = 0.5 * (levels[:-1] + levels[1:])
    return lengths, np.floor(mid * n).astype(np.int64), np.floor(mid * m).astype(np.int64)


def wasserstein_1d(a: np.ndarray, b: np.ndarray, p: float = 2.0) -> np.ndarray:
    """Exact W_p between empirical measures along the first axis.

    Args:
        a: samples, shape (n, ...) (trailing axes are independent problems).
        b: samples, shape (m, ...), same trailing shape.
        p: order, >= 1.

    Returns:
        W_p, shape of the trailing axes.
    """
    a, b = np.sort(np.asarray(a, dtype=np.float64), axis=0), np.sort(np.asarray(b, dtype=np.float64), axis=0)
    lengths, ia, ib = _quantile_pieces(len(a), len(b))
    gaps = np.abs(a[ia] - b[ib]) ** p                       # (L, ...)
    return np.tensordot(lengths, gaps, axes=(0, 0)) ** (1.0 / p)


def random_directions(dim: int, num: int, seed: int = 0) -> np.ndarray:
    """``num`` directions uniform on the unit sphere in R^dim, shape (num, dim)."""
    g = np.random.default_rng(seed).standard_normal((num, dim))
    return g / np.linalg.norm(g, axis=1, keepdims=True)


def sliced_wasserstein(a: np.ndarray, b: np.ndarray, num_directions: int = 1000, p: float = 2.0,
                       seed: int = 0, chunk: int = 100) -> float:
    """Monte Carlo sliced Wasserstein distance SW_p between two sample sets.

    The same ``seed`` gives the same directions, so SW(a, b) == SW(b, a) exactly
    and comparisons of several contenders against one reference share the slicing noise.

    Args:
        a: samples, shape (n, d).
        b: samples, shape (m, d).
        num_directions: random projection directions.
        p: order of the 1-D Wasserstein distances, >= 1.
        seed: seed of the directions.
        chunk: directions projected at once (bounds memory at (n + m) * chunk floats).

    Returns:
        SW_p, a float >= 0.
    """
    a, b = np.atleast_2d(np.asarray(a, dtype=np.float64)), np.atleast_2d(np.asarray(b, dtype=np.float64))
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ShapeError(f"sliced_wasserstein needs samples (n, d) and (m, d), got {a.shape} and {b.shape}")
    if p < 1 or num_directions < 1 or len(a) == 0 or len(b) == 0:
        raise ShapeError("sliced_wasserstein needs p >= 1, num_directions >= 1 and non-empty samples")
    dirs = random_directions(a.shape[1], num_directions, seed)
    powers = [wasserstein_1d(a @ block.T, b @ block.T, p) ** p
              for block in np.array_split(dirs, max(1, -(-num_directions // chunk)))]
    return float(np.mean(np.concatenate(powers)) ** (1.0 / p))
