"""Public testing helpers for learned priors: C2ST and checkpoint tampering.

Used by the tests of ``models`` and meant for anyone adding a prior: quality
is checked with a classifier two-sample test, robustness by corrupting a
saved checkpoint in the ways real files break.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from models.checkpoint import CONFIG_FILE, WEIGHTS_FILE


def c2st_accuracy(a: np.ndarray, b: np.ndarray, seed: int = 0) -> float:
    """Classifier two-sample test of ``a`` (reference) against ``b``: 0.5 = indistinguishable.

    The same test as :func:`ppl.check.c2st` (sbibm's definition), kept under
    this name for the tests and benchmarks of learned priors, with the
    classifier's epoch budget capped at 400 (sbibm allows 10 000) so unit
    tests stay quick; a capped classifier can only under-report a difference.
    """
    from ppl.check import c2st

    return c2st(a, b, seed=seed, max_iter=400)


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
