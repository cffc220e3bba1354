"""A Gaussian mixture prior as a ``ppl`` distribution: ``ppl.sample("x", prior.as_distribution())``.

It plugs into the learned-prior path (``models.distribution``): the mixture,
viewed on one array backend, offers the ``noise_shape`` /
``sample_from_noise`` / ``log_prob`` contract that ``NumPyroLearned`` and
``PyroLearned`` call. The density is the exact mixture density written with
the array namespace (differentiable on JAX and torch, so NUTS can use it).
Draws are an exact transform of standard normal noise of shape (n, d + 1):
column 0, mapped through the normal CDF to a uniform, picks the component by
inverse-CDF; columns 1..d are whitened by the component's covariance.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from models.backends import make_arrays
from models.distribution import LearnedDistribution
from ppl.errors import ShapeError


def _normal_cdf(arrays: Any) -> Any:
    if arrays.name == "torch":
        import torch

        return torch.special.ndtr
    import jax.scipy.special

    return jax.scipy.special.ndtr


class MixtureArrays:
    """A :class:`~models.gmm.GaussianMixturePrior` on one array backend and dtype."""

    def __init__(self, prior: Any, backend: str, dtype: str):
        self.prior = prior
        self.backend = make_arrays(backend, dtype)
        self.xp, self._cdf = self.backend.xp, _normal_cdf(self.backend)
        # Made once, concretely even inside a JAX trace (to_params): the inverse-CDF
        # boundaries (K-1,), the means (K, d) and each covariance's square root (K, d, d).
        consts = self.backend.to_params({
            "bounds": np.cumsum(prior.weights)[:-1], "means": prior.means,
            "roots": prior._eigvecs * np.sqrt(prior._eigvals)[:, None, :]})
        self._bounds, self._means, self._roots = consts["bounds"], consts["means"], consts["roots"]

    @property
    def dim(self) -> int:
        return self.prior.dim

    def noise_shape(self, n: int) -> tuple[int, ...]:
        return (n, self.dim + 1)

    def sample_from_noise(self, noise: Any) -> Any:
        """Exact mixture draws (n, d) from standard normal noise (n, d + 1)."""
        xp = self.xp
        uniform = self._cdf(noise[:, :1])                                        # (n, 1)
        which = xp.sum(uniform > self._bounds[None, :], axis=1)                  # (n,) component
        root = xp.take(self._roots, which, axis=0)                               # (n, d, d)
        shift = xp.matmul(root, noise[:, 1:, None])[..., 0]
        return xp.take(self._means, which, axis=0) + shift

    def log_prob(self, x: Any) -> Any:
        """Exact log density of (n, *event_shape) values, shape (n,)."""
        return self.prior.log_prob(self.xp.reshape(x, (x.shape[0], self.dim)), self.xp)


class GaussianMixtureDistribution(LearnedDistribution):
    """The mixture as a distribution over ``event_shape`` (flattened, it is the mixture's d).

    Args:
        prior: a :class:`~models.gmm.GaussianMixturePrior` of dimension d.
        event_shape: shape of one draw, of size d (default ``(d,)``), e.g. an
            8 x 8 image for a mixture of dimension 64.
    """

    def __init__(self, prior: Any, event_shape: Sequence[int] | None = None):
        shape = (prior.dim,) if event_shape is None else tuple(int(n) for n in event_shape)
        if math.prod(shape) != prior.dim:
            raise ShapeError(f"event_shape {shape} has {math.prod(shape)} entries but the mixture "
                             f"has dimension {prior.dim}")
        super().__init__(_Shaped(prior, shape))
        self.prior = prior  # the mixture itself: structure detection finds its denoiser here

    def on(self, backend: str, dtype: str) -> MixtureArrays:
        key = (backend, dtype)
        if key not in self._on:
            self._on[key] = MixtureArrays(self.prior, backend, dtype)
        return self._on[key]

    def sample_from_noise(self, prior: Any, noise: Any) -> Any:
        draws = prior.sample_from_noise(noise)
        return prior.xp.reshape(draws, (draws.shape[0], *self.event_shape))

    def label(self, name_of: Any) -> str:
        return f"GaussianMixture(K={self.prior.num_components}, event_shape={self.event_shape})"


class _Shaped:
    """Carries the event shape into ``LearnedDistribution.__init__``."""

    def __init__(self, prior: Any, shape: tuple[int, ...]):
        self.prior, self.event_shape = prior, shape
