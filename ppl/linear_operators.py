"""Public module of the linear operators (the same objects as ``ppl.linops``)."""
from .linops import (Adjoint, Composed, Dense, Downsample, GaussianBlur, Identity, LinearOperator, Mask,
                     OperatorSVD, Separable, box_mask, namespace, random_mask, svd_of_matrix)

__all__ = ["Adjoint", "Composed", "Dense", "Downsample", "GaussianBlur", "Identity",
           "LinearOperator", "Mask", "OperatorSVD", "Separable", "box_mask", "namespace",
           "random_mask", "svd_of_matrix"]
