"""Public testing helpers for learned priors: C2ST and checkpoint tampering.

Used by the tests of ``models`` and meant for anyone adding a prior: quality
is checked with a classifier two-sample test, robustness by corrupting a
saved checkpoint in the ways real files break.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from models.checkpoint import CONFIG_FILE, WEIGHTS_FILE


def c2st_accuracy(a: np.ndarray, b: np.ndarray, seed: int = 0) -> float:
    """Mean 5-fold accuracy of an MLP classifier telling a from b (0.5 = indistinguishable)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import cross_val_score
    from sklearn.neural_network import MLPClassifier

    features = np.concatenate([a, b])
    labels = np.r_[np.zeros(len(a)), np.ones(len(b))]
    classifier = MLPClassifier((32, 32), max_iter=400, random_state=seed)
    with warnings.catch_warnings():  # an unconverged classifier only makes the test easier to fail
        warnings.simplefilter("ignore", ConvergenceWarning)
        folds = cross_val_score(classifier, features, labels, cv=5)
    return float(folds.mean())


def edit_checkpoint_header(path: Path, **changes: Any) -> None:
    """Overwrite top-level keys of a checkpoint's config.json (not atomically: tests only)."""
    header = json.loads((Path(path) / CONFIG_FILE).read_text())
    header.update(changes)
    (Path(path) / CONFIG_FILE).write_text(json.dumps(header))


def edit_checkpoint_config(path: Path, section: str, **changes: Any) -> None:
    """Overwrite keys of ``config[section]`` in a checkpoint's config.json."""
    header = json.loads((Path(path) / CONFIG_FILE).read_text())
    header["config"][section].update(changes)
    (Path(path) / CONFIG_FILE).write_text(json.dumps(header))


def flip_weight_byte(path: Path, offset: int = -3) -> None:
    """Corrupt one byte of weights.safetensors (the checksum must catch it)."""
    data = bytearray((Path(path) / WEIGHTS_FILE).read_bytes())
    data[offset] ^= 0xFF
    (Path(path) / WEIGHTS_FILE).write_bytes(bytes(data))
