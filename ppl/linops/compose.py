"""Operators built from operators: the adjoint ``op.T`` and the composition ``a @ b``."""
from __future__ import annotations

from ..errors import ShapeError
from .base import LinearOperator, OperatorSVD


class Adjoint(LinearOperator):
    """``A^T`` of an operator (``op.T``)."""

    def __init__(self, op: LinearOperator):
        super().__init__(op.out_shape, op.in_shape)
        self.op = op

    @property
    def name(self) -> str:
        return f"{self.op.name}.T"

    @property
    def T(self) -> LinearOperator:
        return self.op

    def _forward(self, x, xp):
        return self.op._adjoint(x, xp)

    def _adjoint(self, y, xp):
        return self.op._forward(y, xp)

    def _dense(self):
        return self.op.dense().T

    def _svd(self):
        inner = self.op.svd()
        return OperatorSVD(inner.V, inner.s, inner.U)


class Composed(LinearOperator):
    """``outer @ inner``: first ``inner``, then ``outer``; SVD from the dense product."""

    def __init__(self, outer: LinearOperator, inner: LinearOperator):
        if inner.out_shape != outer.in_shape:
            raise ShapeError(f"cannot compose {outer.name} @ {inner.name}: {inner.name} gives "
                             f"shape {inner.out_shape} but {outer.name} takes {outer.in_shape}")
        super().__init__(inner.in_shape, outer.out_shape)
        self.outer, self.inner = outer, inner

    @property
    def name(self) -> str:
        return f"({self.outer.name} @ {self.inner.name})"

    def _forward(self, x, xp):
        return self.outer._forward(self.inner._forward(x, xp), xp)

    def _adjoint(self, y, xp):
        return self.inner._adjoint(self.outer._adjoint(y, xp), xp)

    def _dense(self):
        return self.outer.dense() @ self.inner.dense()
