"""The host (NumPy, float64) adapter: SMC's per-step bookkeeping runs here.

Tempering, resampling and kernel tuning are cheap (C, N) computations; on
the host they add nothing to the compiled device program (whose XLA compile
time dominates small SMC runs) and run in float64 whatever the device dtype,
as the evidence increments should.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np


class NumpyAdapter:
    """The subset of :class:`~inference.smc.adapter.ArrayAdapter` the host math uses."""

    name = "numpy"
    ns = np
    where = staticmethod(np.where)
    exp = staticmethod(np.exp)
    log = staticmethod(np.log)
    clip = staticmethod(np.clip)
    arange = staticmethod(np.arange)

    def asarray(self, x: Any) -> np.ndarray:
        return np.asarray(x, dtype=float)

    def to_numpy(self, x: Any) -> np.ndarray:
        return np.asarray(x)

    def searchsorted_each(self, sorted_x: np.ndarray, values: np.ndarray) -> np.ndarray:
        return np.stack([np.searchsorted(s, v) for s, v in zip(sorted_x, values)])

    def take_each(self, x: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return np.take_along_axis(x, idx.reshape(idx.shape + (1,) * (x.ndim - 2)), axis=1)

    def eye(self, n: int, dtype: Any) -> np.ndarray:
        return np.eye(n, dtype=dtype)

    def cholesky(self, x: np.ndarray) -> np.ndarray:
        """Batched Cholesky factors; NaN for a matrix that is not positive definite."""
        out = np.full_like(x, np.nan)
        for i, m in enumerate(x):
            try:
                out[i] = np.linalg.cholesky(m)
            except np.linalg.LinAlgError:
                pass  # NaN proposals are rejected, so such a chain just stays put
        return out

    def fori_loop(self, n: int, body: Callable[[Any], Any], state: Any) -> Any:
        for _ in range(n):
            state = body(state)
        return state


HOST = NumpyAdapter()
