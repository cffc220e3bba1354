"""Linear operators for inverse problems (``ppl.linops``); see :mod:`ppl.linops.base`.

Usage::

    op = ppl.linops.GaussianBlur((16, 16), sigma=1.0, size=5)
    y_clean = op(x)                  # numpy / jax / torch array, or a symbolic model value
    svd = op.svd()                   # U (m, r), s (r,), V (n, r), numpy float64
"""
from .base import LinearOperator, OperatorSVD, namespace, svd_of_matrix
from .basic import Dense, Identity, Mask, box_mask, random_mask
from .compose import Adjoint, Composed
from .separable import Downsample, GaussianBlur, Separable

__all__ = ["Adjoint", "Composed", "Dense", "Downsample", "GaussianBlur", "Identity",
           "LinearOperator", "Mask", "OperatorSVD", "Separable", "box_mask", "namespace",
           "random_mask", "svd_of_matrix"]
