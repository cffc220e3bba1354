"""Small data sets for training and testing learned priors.

Everything here is numpy only (no torch / jax import) and deterministic given
its seed or ``numpy.random.Generator``.

* ``load_digits``: scikit-learn's 8x8 handwritten digits (1797 images, bundled
  with scikit-learn, no download), pixel values scaled from {0..16} to
  **[-1, 1]** (``x / 8 - 1``), float32, with a fixed seeded train/test split of
  ``DIGITS_TRAIN_SIZE = 1500`` / ``DIGITS_TEST_SIZE = 297`` images.
* 2-D toy sets ``two_moons``, ``rings``, ``gaussian_grid``: ``(n, 2)`` float64.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

DIGITS_SPLIT_SEED = 0
DIGITS_TEST_SIZE = 297
DIGITS_TRAIN_SIZE = 1500  # 1797 - 297
_SPLITS = ("train", "test", "all")


class Digits(NamedTuple):
    """Digits images and labels.

    Attributes:
        images: float32 in [-1, 1]; shape (n, 1, 8, 8), or (n, 64) when flat.
        labels: int64 digit classes, shape (n,).
    """

    images: np.ndarray
    labels: np.ndarray


def digits_split_indices() -> dict[str, np.ndarray]:
    """Return the fixed train / test row indices into scikit-learn's digits.

    The permutation depends only on ``DIGITS_SPLIT_SEED`` so every run, machine
    and backend sees the same split.
    """
    order = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(
        DIGITS_TRAIN_SIZE + DIGITS_TEST_SIZE
    )
    return {
        "train": np.sort(order[:DIGITS_TRAIN_SIZE]),
        "test": np.sort(order[DIGITS_TRAIN_SIZE:]),
        "all": np.arange(DIGITS_TRAIN_SIZE + DIGITS_TEST_SIZE),
    }


def load_digits(split: str = "train", flat: bool = False) -> Digits:
    """Load scikit-learn's 8x8 digits scaled to [-1, 1].

    Args:
        split: ``"train"`` (1500 images), ``"test"`` (297) or ``"all"`` (1797).
        flat: return images as (n, 64) instead of (n, 1, 8, 8).

    Returns:
        ``Digits(images, labels)``; images float32, labels int64.
    """
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {_SPLITS}, got {split!r}")
    from sklearn.datasets import load_digits as _sk_load_digits

    bunch = _sk_load_digits()
    idx = digits_split_indices()[split]
    images = (bunch.images[idx].astype(np.float32) / 8.0 - 1.0).astype(np.float32)
    images = images.reshape(len(idx), 64) if flat else images[:, None, :, :]
    return Digits(images=np.ascontiguousarray(images), labels=bunch.target[idx].astype(np.int64))


def two_moons(n: int, rng: np.random.Generator, noise: float = 0.05) -> np.ndarray:
    """Two interleaving half circles with Gaussian jitter.

    Args:
        n: number of points; ``n // 2`` (rounded up) on the upper moon.
        rng: numpy random generator.
        noise: standard deviation of the isotropic jitter.

    Returns:
        Array of shape (n, 2), in roughly [-1, 2] x [-0.5, 1].
    """
    upper = rng.random(n) < 0.5
    theta = np.pi * rng.random(n)
    x = np.where(upper, np.cos(theta), 1.0 - np.cos(theta))
    y = np.where(upper, np.sin(theta), 0.5 - np.sin(theta))
    return np.stack([x, y], axis=1) + noise * rng.standard_normal((n, 2))


def rings(
    n: int,
    rng: np.random.Generator,
    radii: tuple[float, ...] = (1.0, 2.0),
    noise: float = 0.05,
) -> np.ndarray:
    """Concentric circles, each point on a uniformly chosen ring.

    Args:
        n: number of points.
        rng: numpy random generator.
        radii: ring radii.
        noise: standard deviation of the isotropic jitter.

    Returns:
        Array of shape (n, 2).
    """
    radius = np.asarray(radii, dtype=np.float64)[rng.integers(len(radii), size=n)]
    theta = 2.0 * np.pi * rng.random(n)
    circle = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    return radius[:, None] * circle + noise * rng.standard_normal((n, 2))


def gaussian_grid_means(size: int = 3, spacing: float = 2.0) -> np.ndarray:
    """Centres of a ``size x size`` grid centred at the origin, shape (size**2, 2)."""
    ticks = spacing * (np.arange(size) - (size - 1) / 2.0)
    gx, gy = np.meshgrid(ticks, ticks, indexing="ij")
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def gaussian_grid(
    n: int,
    rng: np.random.Generator,
    size: int = 3,
    spacing: float = 2.0,
    std: float = 0.1,
) -> np.ndarray:
    """Equal-weight isotropic Gaussians on a square grid.

    The same distribution is available analytically as
    ``models.gmm.GaussianMixturePrior.grid(size, spacing, std)``.

    Args:
        n: number of points.
        rng: numpy random generator.
        size: grid side; ``size**2`` components.
        spacing: distance between neighbouring centres.
        std: per-coordinate standard deviation of each component.

    Returns:
        Array of shape (n, 2).
    """
    means = gaussian_grid_means(size, spacing)
    which = rng.integers(len(means), size=n)
    return means[which] + std * rng.standard_normal((n, 2))


TOY_DATASETS = {"two_moons": two_moons, "rings": rings, "gaussian_grid": gaussian_grid}
