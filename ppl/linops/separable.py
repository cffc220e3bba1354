"""Operators acting on the last two axes of images as ``R @ x @ C.T``.

Separable blurs and average pooling are Kronecker products ``R ⊗ C`` on the
flattened image (times the identity on leading channel axes), so forward and
adjoint are two small matmuls, and the SVD is the Kronecker product of the
two factors' SVDs: no dense (H W) x (H W) decomposition is needed.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import ParameterError
from .base import LinearOperator, _truncate, svd_of_matrix


class Separable(LinearOperator):
    """``x -> rows @ x @ cols.T`` on the last two axes of ``shape``.

    Args:
        shape: input shape (..., H, W); leading axes (channels) are untouched.
        rows: matrix (H', H).
        cols: matrix (W', W).
    """

    def __init__(self, shape: Sequence[int], rows: np.ndarray, cols: np.ndarray):
        shape = tuple(shape)
        if len(shape) < 2 or rows.shape[1] != shape[-2] or cols.shape[1] != shape[-1]:
            raise ParameterError(f"{type(self).__name__}: factors {rows.shape}, {cols.shape} "
                                 f"do not fit the image shape {shape}")
        super().__init__(shape, shape[:-2] + (rows.shape[0], cols.shape[0]))
        self.rows, self.cols = np.asarray(rows, np.float64), np.asarray(cols, np.float64)

    def _forward(self, x, xp):
        rows, cols_t = self.constant("R", self.rows, x, xp), self.constant("CT", self.cols.T, x, xp)
        return xp.matmul(rows, xp.matmul(x, cols_t))

    def _adjoint(self, y, xp):
        rows_t, cols = self.constant("RT", self.rows.T, y, xp), self.constant("C", self.cols, y, xp)
        return xp.matmul(rows_t, xp.matmul(y, cols))

    def _dense(self):
        channels = int(np.prod(self.in_shape[:-2]))
        return np.kron(np.eye(channels), np.kron(self.rows, self.cols))

    def _svd(self):
        channels = int(np.prod(self.in_shape[:-2]))
        r, c = svd_of_matrix(self.rows), svd_of_matrix(self.cols)
        # Row-major flattening of (..., H, W) puts W fastest: kron(ch, rows, cols) order.
        U = np.kron(np.eye(channels), np.kron(r.U, c.U))
        V = np.kron(np.eye(channels), np.kron(r.V, c.V))
        s = np.tile(np.kron(r.s, c.s), channels)
        return _truncate(U, s, V, max(self.out_dim, self.in_dim))


def gaussian_kernel_matrix(n: int, sigma: float, size: int) -> np.ndarray:
    """(n, n) matrix of a 1-D "same" convolution with a normalised Gaussian, zero padding."""
    radius = size // 2
    offsets = np.arange(-radius, radius + 1)
    taps = np.exp(-0.5 * (offsets / sigma) ** 2)
    taps /= taps.sum()
    diff = np.arange(n)[None, :] - np.arange(n)[:, None]  # column minus row
    inside = np.abs(diff) <= radius
    return np.where(inside, taps[np.clip(diff + radius, 0, size - 1)], 0.0)


class GaussianBlur(Separable):
    """Gaussian blur with a ``size`` x ``size`` kernel, output the same shape as the input.

    Zero padding: pixels outside the image count as 0, so edge pixels get
    darker; the kernel is separable and symmetric, so the operator is
    self-adjoint.

    Args:
        shape: image shape (..., H, W).
        sigma: kernel standard deviation in pixels, > 0.
        size: kernel width, odd, >= 1.
    """

    def __init__(self, shape: Sequence[int], sigma: float, size: int = 5):
        if not (np.isfinite(sigma) and sigma > 0):
            raise ParameterError(f"GaussianBlur: sigma must be positive, got {sigma}")
        if size < 1 or size % 2 == 0:
            raise ParameterError(f"GaussianBlur: size must be a positive odd integer, got {size}")
        shape = tuple(shape)
        self.sigma, self.size = float(sigma), int(size)
        super().__init__(shape, gaussian_kernel_matrix(shape[-2], sigma, size),
                         gaussian_kernel_matrix(shape[-1], sigma, size))

    @property
    def name(self) -> str:
        return f"GaussianBlur({self.in_shape}, sigma={self.sigma:g}, size={self.size})"


def pooling_matrix(n: int, factor: int) -> np.ndarray:
    """(n // factor, n) matrix averaging consecutive blocks of ``factor`` entries."""
    return np.kron(np.eye(n // factor), np.full((1, factor), 1.0 / factor))


class Downsample(Separable):
    """Average pooling over ``factor`` x ``factor`` blocks (super-resolution).

    Args:
        shape: image shape (..., H, W), H and W divisible by ``factor``.
        factor: pooling factor, >= 1.
    """

    def __init__(self, shape: Sequence[int], factor: int):
        shape = tuple(shape)
        if factor < 1 or len(shape) < 2 or shape[-2] % factor or shape[-1] % factor:
            raise ParameterError(f"Downsample: factor {factor} must be >= 1 and divide the "
                                 f"image size {shape[-2:]}")
        self.factor = int(factor)
        super().__init__(shape, pooling_matrix(shape[-2], factor), pooling_matrix(shape[-1], factor))

    @property
    def name(self) -> str:
        return f"Downsample({self.in_shape}, factor={self.factor})"
