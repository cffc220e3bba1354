"""The random numbers of SMC, drawn on the host with one NumPy generator per chain.

Drawing them outside the compiled moves keeps random-number generation out
of the XLA program (JAX's threefry inflates its compile time), gives both
backends the same streams, and makes chain c's draws depend on its seed
alone, so a chain gives the same result however many chains run beside it.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np


class Noise(NamedTuple):
    """The randomness of one tempering step of C chains.

    Attributes:
        resample: (C, N) uniforms on [0, 1) for resampling.
        normal: (C, M, N, D) standard normals, one (N, D) block per kernel move.
        uniform: (C, M, N) uniforms on [0, 1) for the Metropolis tests.
    """

    resample: Any
    normal: Any
    uniform: Any


class ChainNoise:
    """Draws :class:`Noise` from one ``numpy.random.Generator`` per chain seed."""

    def __init__(self, seeds: list[int]):
        self.generators = [np.random.default_rng(s) for s in seeds]

    def draw(self, moves: int, particles: int, dim: int, dtype: Any) -> Noise:
        """Noise for ``moves`` kernel moves of (particles, dim) positions.

        The moves' numbers come in ``dtype`` (the device's), the resampling
        uniforms in float64 (they are used on the host).
        """
        dtype = np.dtype(dtype)
        dtype = dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)
        rows = [(g.random(particles),
                 g.standard_normal((moves, particles, dim), dtype=dtype),
                 g.random((moves, particles), dtype=dtype)) for g in self.generators]
        return Noise(*(np.stack(parts) for parts in zip(*rows)))
