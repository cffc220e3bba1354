"""A truncated univariate distribution for Pyro, which has no generic one.

NumPyro ships ``TruncatedDistribution``; this is its torch counterpart for
bases with ``cdf`` and ``icdf`` (Normal, Cauchy, Laplace): the log density is
renormalised by the mass in [low, high] and sampling inverts the CDF.
"""
from __future__ import annotations

from typing import Any

import pyro.distributions as pd
import torch
from pyro.distributions import constraints


class TorchTruncated(pd.TorchDistribution):
    """``base`` restricted to ``[low, high]``; either bound may be None."""

    arg_constraints: dict = {}
    has_rsample = True

    def __init__(self, base: Any, low: Any = None, high: Any = None, validate_args: Any = None):
        self.base = base
        dtype = torch.get_default_dtype()
        self.low = torch.as_tensor(-float("inf") if low is None else low, dtype=dtype)
        self.high = torch.as_tensor(float("inf") if high is None else high, dtype=dtype)
        batch = torch.broadcast_shapes(base.batch_shape, self.low.shape, self.high.shape)
        super().__init__(batch, validate_args=False)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self) -> Any:
        if torch.isinf(self.high).all():
            return constraints.greater_than(self.low)
        if torch.isinf(self.low).all():
            return constraints.less_than(self.high)
        return constraints.interval(self.low, self.high)

    def _cdf_bounds(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.base.cdf(self.low), self.base.cdf(self.high)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        lo, hi = self._cdf_bounds()
        inside = (value >= self.low) & (value <= self.high)
        lp = self.base.log_prob(value) - torch.log(hi - lo)
        return torch.where(inside, lp, torch.full_like(lp, -float("inf")))

    def rsample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        lo, hi = self._cdf_bounds()
        shape = self._extended_shape(sample_shape)
        u = torch.rand(shape, dtype=lo.dtype, device=lo.device)
        x = self.base.icdf(lo + u * (hi - lo))
        return torch.clamp(x, self.low, self.high)

    def expand(self, batch_shape: Any, _instance: Any = None) -> "TorchTruncated":
        return TorchTruncated(self.base.expand(batch_shape), self.low.expand(batch_shape),
                              self.high.expand(batch_shape))
