"""Classifier two-sample test (C2ST) as sbibm defines it.

A classifier that cannot tell two samples apart scores 0.5 accuracy; one that
separates them perfectly scores 1. sbibm (``sbibm/metrics/c2st.py``) z-scores
both samples by the first sample's mean and standard deviation, trains an
sklearn MLP with two ReLU layers of 10 x dim units (adam), and reports the
mean accuracy of a shuffled 5-fold cross-validation; we follow that exactly so
our numbers compare with its published tables. Two engines train that
classifier: ``"sklearn"`` (sklearn itself) and ``"jax"`` (``c2st_jax``: the
same algorithm, step for step, compiled into one loop per fold; about 2-3x less
CPU time on 10^4 + 10^4 samples, up to 10x when the classifier stops early;
only its random streams differ).
"""
from __future__ import annotations

import warnings

import numpy as np

from ..errors import ParameterError, ShapeError


def _as_2d(samples, which: str) -> np.ndarray:
    arr = np.asarray(samples, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or len(arr) < 2:
        raise ShapeError(f"c2st: {which} must have shape (num_samples, dim) with at least two "
                         f"samples, got shape {np.shape(samples)}")
    if not np.all(np.isfinite(arr)):
        raise ShapeError(f"c2st: {which} contains NaN or inf")
    return arr


def _sklearn_scores(features, labels, split, width: int, max_iter: int, seed: int) -> list[float]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import cross_val_score
    from sklearn.neural_network import MLPClassifier

    classifier = MLPClassifier(hidden_layer_sizes=(width, width), activation="relu",
                               solver="adam", max_iter=max_iter, random_state=seed)
    with warnings.catch_warnings():  # an unconverged classifier only under-reports a difference
        warnings.simplefilter("ignore", ConvergenceWarning)
        return list(cross_val_score(classifier, features, labels, cv=split, scoring="accuracy"))


def _jax_scores(features, labels, split, width: int, max_iter: int, seed: int) -> list[float]:
    from .c2st_jax import fold_accuracy

    return [fold_accuracy(features[train], labels[train], features[test], labels[test], width, max_iter,
                          seed + 7919 * k)[0]
            for k, (train, test) in enumerate(split.split(features))]


ENGINES = {"sklearn": _sklearn_scores, "jax": _jax_scores}


def c2st(samples_p, samples_q, seed: int = 0, folds: int = 5, z_score: bool = True,
         max_iter: int = 10_000, engine: str = "sklearn") -> float:
    """Cross-validated accuracy of a classifier telling ``samples_p`` from ``samples_q``.

    Args:
        samples_p: the reference sample, shape (n, dim) (or (n,) for dim 1);
            z-scoring uses its mean and standard deviation.
        samples_q: the sample under test, shape (m, dim).
        seed: seeds the fold split and the classifier.
        folds: number of cross-validation folds.
        z_score: standardise by the reference's moments first (sbibm does).
        max_iter: the classifier's epoch limit (sbibm: 10000; adam stops
            earlier once the training loss stalls).
        engine: ``"sklearn"`` or ``"jax"`` (the same classifier, compiled; see the module doc).

    Returns:
        Mean held-out accuracy in [0, 1]; 0.5 means indistinguishable.
    """
    from sklearn.model_selection import KFold

    if engine not in ENGINES:
        raise ParameterError(f"c2st: unknown engine {engine!r}; choose from {sorted(ENGINES)}")
    p, q = _as_2d(samples_p, "samples_p"), _as_2d(samples_q, "samples_q")
    if p.shape[1] != q.shape[1]:
        raise ShapeError(f"c2st: samples have different dimensions {p.shape[1]} and {q.shape[1]}")
    if z_score:
        mean, std = p.mean(0), p.std(0, ddof=1)
        std = np.where(std > 0, std, 1.0)  # a constant coordinate carries no signal
        p, q = (p - mean) / std, (q - mean) / std
    features = np.concatenate([p, q])
    labels = np.r_[np.zeros(len(p)), np.ones(len(q))]
    split = KFold(n_splits=folds, shuffle=True, random_state=seed)
    return float(np.mean(ENGINES[engine](features, labels, split, 10 * p.shape[1], max_iter, seed)))


def c2st_tolerance(num_p: int, num_q: int, sigmas: float = 4.0) -> float:
    """Half-width above 0.5 that a C2ST of two equal distributions stays below.

    Held-out accuracy of a chance classifier on ``n = num_p + num_q`` points is
    a binomial proportion with standard error ``0.5 / sqrt(n)``.
    """
    return sigmas * 0.5 / np.sqrt(num_p + num_q)
