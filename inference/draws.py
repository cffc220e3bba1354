"""Helpers that turn flat latent draws into a Posterior's (chain, draw, ...) samples."""
from __future__ import annotations

from typing import Any

import numpy as np


def deterministic_names(program: Any) -> list[str]:
    return [n for n, d in program.graph.nodes(data=True) if d["role"] == "deterministic"]


def with_deterministic(program: Any, samples: dict[str, np.ndarray],
                       seed: int = 0) -> dict[str, np.ndarray]:
    """Adds deterministic sites, recomputed from latent draws shaped (chain, draw, ...)."""
    names = deterministic_names(program)
    if not names:
        return samples
    chains, draws = next(iter(samples.values())).shape[:2]
    flat = {k: v.reshape((-1,) + v.shape[2:]) for k, v in samples.items()}
    values = program.sample_predictive(flat, seed=seed)
    extra = {k: np.asarray(values[k]).reshape((chains, draws) + np.shape(values[k])[1:])
             for k in names}
    return {**samples, **extra}
