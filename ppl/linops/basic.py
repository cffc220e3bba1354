"""Elementary operators: identity, a dense matrix, and pixel masks."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import ParameterError, ShapeError
from .base import LinearOperator, OperatorSVD


class Identity(LinearOperator):
    """``x -> x`` on arrays of ``shape`` (denoising)."""

    def __init__(self, shape: Sequence[int]):
        super().__init__(tuple(shape), tuple(shape))

    def _forward(self, x, xp):
        return x

    def _adjoint(self, y, xp):
        return y

    def _dense(self):
        return np.eye(self.in_dim)

    def _svd(self):
        eye = np.eye(self.in_dim)
        return OperatorSVD(eye, np.ones(self.in_dim), eye.copy())


class Dense(LinearOperator):
    """A constant matrix M (m, n) acting on flattened inputs.

    Args:
        matrix: shape (m, n), finite.
        in_shape: shape of an input, size n (default ``(n,)``).
        out_shape: shape of an output, size m (default ``(m,)``).
    """

    def __init__(self, matrix: Any, in_shape: Sequence[int] | None = None,
                 out_shape: Sequence[int] | None = None):
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.ndim != 2 or not np.all(np.isfinite(matrix)):
            raise ParameterError(f"Dense needs a finite 2-D matrix, got shape {matrix.shape}")
        in_shape = tuple(in_shape) if in_shape is not None else (matrix.shape[1],)
        out_shape = tuple(out_shape) if out_shape is not None else (matrix.shape[0],)
        if (int(np.prod(out_shape)), int(np.prod(in_shape))) != matrix.shape:
            raise ShapeError(f"Dense: matrix of shape {matrix.shape} does not map {in_shape} "
                             f"to {out_shape}")
        super().__init__(in_shape, out_shape)
        self.matrix = matrix

    @property
    def name(self) -> str:
        return f"Dense{self.matrix.shape}"

    def _forward(self, x, xp):
        batch = self._batch(x, self.in_shape)
        flat = xp.reshape(x, (*batch, self.in_dim))
        out = xp.matmul(flat, self.constant("MT", self.matrix.T, x, xp))
        return xp.reshape(out, (*batch, *self.out_shape))

    def _adjoint(self, y, xp):
        batch = self._batch(y, self.out_shape)
        flat = xp.reshape(y, (*batch, self.out_dim))
        out = xp.matmul(flat, self.constant("M", self.matrix, y, xp))
        return xp.reshape(out, (*batch, *self.in_shape))

    def _dense(self):
        return self.matrix


class Mask(LinearOperator):
    """Keeps the entries where ``mask`` is True: (..., *mask.shape) -> (..., m).

    The output holds only the observed entries (m = mask.sum(), in row-major
    order), so an inpainting likelihood has no terms for missing pixels.

    Args:
        mask: boolean array, True where an entry is observed; at least one True.
    """

    def __init__(self, mask: Any):
        mask = np.asarray(mask, dtype=bool)
        if mask.ndim == 0 or not mask.any():
            raise ParameterError(f"Mask needs an array with at least one observed (True) "
                                 f"entry, got shape {mask.shape} with {int(mask.sum())} True")
        super().__init__(mask.shape, (int(mask.sum()),))
        self.mask = mask
        self.indices = np.flatnonzero(mask)

    @property
    def name(self) -> str:
        return f"Mask({self.out_dim}/{self.in_dim} observed)"

    def _selection(self) -> np.ndarray:
        """The (m, n) 0/1 matrix that picks the observed entries."""
        return np.eye(self.in_dim)[self.indices]

    def _forward(self, x, xp):
        batch = self._batch(x, self.in_shape)
        flat = xp.reshape(x, (*batch, self.in_dim))
        return xp.take(flat, self.constant("idx", self.indices, x, xp, cast=False), axis=-1)

    def _adjoint(self, y, xp):
        # A matmul with the selection matrix scatters back on every backend (no in-place ops).
        batch = self._batch(y, self.out_shape)
        out = xp.matmul(y, self.constant("S", self._selection(), y, xp))
        return xp.reshape(out, (*batch, *self.in_shape))

    def _dense(self):
        return self._selection()

    def _svd(self):
        return OperatorSVD(np.eye(self.out_dim), np.ones(self.out_dim), self._selection().T)


def random_mask(shape: Sequence[int], fraction: float, seed: int = 0) -> Mask:
    """A mask observing a random ``fraction`` of the entries (rounded, at least one).

    Args:
        shape: input shape, e.g. (H, W).
        fraction: share of entries observed, in (0, 1].
        seed: numpy seed of the choice.
    """
    if not 0.0 < fraction <= 1.0:
        raise ParameterError(f"random_mask: fraction must be in (0, 1], got {fraction}")
    size = int(np.prod(shape))
    chosen = np.random.default_rng(seed).choice(size, max(1, round(fraction * size)), replace=False)
    mask = np.zeros(size, dtype=bool)
    mask[chosen] = True
    return Mask(mask.reshape(tuple(shape)))


def box_mask(shape: Sequence[int], box: tuple[int, int, int, int]) -> Mask:
    """A mask hiding the box ``rows[r0:r1] x cols[c0:c1]`` of the last two axes (box inpainting).

    Args:
        shape: input shape, (..., H, W).
        box: (r0, r1, c0, c1), half-open pixel ranges.
    """
    shape = tuple(shape)
    r0, r1, c0, c1 = box
    if len(shape) < 2 or not (0 <= r0 < r1 <= shape[-2] and 0 <= c0 < c1 <= shape[-1]):
        raise ParameterError(f"box_mask: box {box} does not lie inside the image shape {shape}")
    mask = np.ones(shape, dtype=bool)
    mask[..., r0:r1, c0:c1] = False
    return Mask(mask)
