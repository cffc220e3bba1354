"""One VP-style view over every prior with a denoiser, on one backend.

Posterior samplers see a prior through :class:`DenoiserView`: the forward
process u_t = alpha(t) u_0 + sigma(t) eps in *diffusion space* u, a decreasing
time grid, and the denoiser E[u_0 | u_t]. A ``models.DiffusionPrior`` brings
its own formulation (VP: t in [0, 1]; EDM: alpha = 1, t = sigma) and
normalisation u = (x - shift) / scale; a ``models.gmm.GaussianMixturePrior``
gets an exact denoiser under the VP cosine schedule, with u = x.

The view counts denoiser calls (``nfe``; one batched call is one evaluation,
as in the papers' NFE counts).
"""
from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any

import numpy as np

from ppl.errors import MethodError

# The GMM's exact denoiser needs a noise schedule; the cosine one is what
# DiffusionPrior trains with by default, so both kinds of prior behave alike.
GMM_SCHEDULE = "cosine"
# The GMM grid (see GMMView.times): Karras curvature and smallest sigma/alpha
# relative to the smallest component std; both tuned on the 25-mode benchmark
# prior (unconditional 20- and 100-step DDPM closest to exact draws).
GMM_GRID_RHO = 3.0
GMM_LAMBDA_MIN = 0.02
GMM_LAMBDA_MAX = 10.0


def _cosine_time(alpha_bar: np.ndarray, offset: float = 0.008) -> np.ndarray:
    """Inverse of ``models.schedules.cosine_alpha_bar`` (unclipped part), times in [0, 1]."""
    c0 = math.cos(offset / (1.0 + offset) * math.pi / 2)
    angle = np.arccos(np.clip(np.sqrt(alpha_bar) * c0, -1.0, 1.0))
    return np.clip(angle / (math.pi / 2) * (1.0 + offset) - offset, 0.0, 1.0)


class DenoiserView:
    """Base class; subclasses set ``formulation``, ``shift``, ``scale`` and ``_denoise``.

    Attributes:
        dim: flattened dimension d of the prior's event.
        event_shape: the prior's event shape (data space).
        shift: (d,) numpy offset; scale: positive float (u = (x - shift) / scale).
        data_variance: average per-coordinate prior variance in diffusion space
            (1 for a DiffusionPrior, whose normalisation makes it so).
        xp: array namespace of the backend; nfe: denoiser calls so far.
    """

    data_variance: float = 1.0

    dim: int
    event_shape: tuple[int, ...]
    shift: np.ndarray
    scale: float

    def __init__(self, formulation: Any, adapter: Any):
        self.formulation, self.adapter, self.xp = formulation, adapter, adapter.xp
        self.nfe = 0

    def times(self, num_steps: int) -> np.ndarray:
        """Decreasing time grid (num_steps + 1,) ending at 0."""
        if num_steps < 1:
            raise MethodError(f"num_steps must be >= 1, got {num_steps}")
        return np.asarray(self.formulation.sampling_times(num_steps), dtype=np.float64)

    def alpha(self, t: float) -> float:
        return float(self.formulation.alpha(np.float64(t)))

    def sigma(self, t: float) -> float:
        return float(self.formulation.sigma(np.float64(t)))

    def denoise(self, u_t: Any, t: Any) -> Any:
        """E[u_0 | u_t] for u_t (n, d) at time t (a float, or a 0-d array inside ``jit``).

        Counts one evaluation, except while JAX traces (``jit`` counts those).
        """
        if not self.adapter.is_tracer(u_t):
            self.nfe += 1
        return self._denoise(u_t, t)

    def jit(self, fn: Any, evaluations: int) -> Any:
        """``fn`` compiled by the backend (JAX; torch runs it as is), counting NFE.

        Args:
            fn: a pure function of backend arrays (times as 0-d arrays).
            evaluations: denoiser calls ``fn`` makes, added to ``nfe`` per call.
        """
        compiled = self.adapter.jit(fn)
        if compiled is fn:
            return fn

        def call(*args: Any) -> Any:
            self.nfe += evaluations
            return compiled(*args)

        return call

    def _denoise(self, u_t: Any, t: Any) -> Any:
        raise NotImplementedError

    def initial(self, key: Any, n: int, tr: Any) -> Any:
        """n draws (n, d) of u at the first time ``tr.t``: N(0, alpha^2 + sigma^2) for unit data."""
        return float(np.hypot(tr.alpha, tr.sigma)) * self.adapter.normal(key, (n, self.dim))

    def to_data(self, u: Any) -> Any:
        """Diffusion space (n, d) -> flattened data space (n, d)."""
        return u * self.scale + self.adapter.asarray(self.shift)

    def from_data(self, x: Any) -> Any:
        """Flattened data space (n, d) -> diffusion space (n, d)."""
        return (x - self.adapter.asarray(self.shift)) / self.scale

    def pull_back(self, obs: Any) -> tuple[Any, np.ndarray, float | None]:
        """y = A x + sigma_y eps rewritten in diffusion space: y_u = A u + sigma_u eps.

        With x = shift + scale u: y_u = (y - A shift) / scale, sigma_u =
        sigma_y / scale, and the operator is unchanged (so masks stay masks and
        its SVD is reused).

        Returns:
            (operator, y_u (m,) numpy float64, sigma_u or None for a latent sigma).
        """
        op = obs.operator
        y = np.asarray(obs.y, dtype=np.float64).reshape(-1)
        offset = np.asarray(op.matvec(self.shift[None], np), dtype=np.float64).reshape(-1)
        sigma = None if isinstance(obs.noise, str) else float(obs.noise) / self.scale
        return op, (y - offset) / self.scale, sigma


# Converted priors by (id of the prior, array backend, dtype), most recently used last.
# ``prior.to`` builds a fresh jitted network, which recompiled on the first eager
# denoiser call (TDS's init) of every problem; the entry keeps its prior alive, so
# an id is never reused while it is cached.
_CONVERTED: OrderedDict[tuple[int, str, str], tuple[Any, Any]] = OrderedDict()
MAX_CONVERTED = 4


def converted(prior: Any, array_backend: str, dtype: str) -> Any:
    """``prior.to(array_backend, dtype)``, made once per prior and reused by every later view."""
    key = (id(prior), array_backend, dtype)
    if key not in _CONVERTED:
        _CONVERTED[key] = (prior, prior.to(array_backend, dtype))
        while len(_CONVERTED) > MAX_CONVERTED:
            _CONVERTED.popitem(last=False)
    _CONVERTED.move_to_end(key)
    return _CONVERTED[key][1]


class DiffusionPriorView(DenoiserView):
    """A ``models.DiffusionPrior`` (VP or EDM), run on the backend's array library."""

    def __init__(self, prior: Any, adapter: Any, dtype: str):
        super().__init__(prior.formulation, adapter)
        array_backend = "jax" if adapter.name == "numpyro" else "torch"
        self.prior = converted(prior, array_backend, dtype)
        self.dim, self.event_shape = int(prior.dim), tuple(prior.event_shape)
        self.shift = np.asarray(prior.normalization.shift, dtype=np.float64)
        self.scale = float(prior.normalization.scale)

    def _denoise(self, u_t: Any, t: Any) -> Any:
        return self.prior.denoise(u_t, t)


class GMMView(DenoiserView):
    """A ``models.gmm.GaussianMixturePrior`` with its exact denoiser, VP cosine schedule."""

    def __init__(self, prior: Any, adapter: Any, dtype: str):
        from models.formulations import VPFormulation

        super().__init__(VPFormulation(GMM_SCHEDULE), adapter)
        self.prior = prior
        self.dim = int(prior.dim)
        self.event_shape = tuple(getattr(prior, "event_shape", (prior.dim,)))
        self.shift, self.scale = np.zeros(self.dim), 1.0
        self.data_variance = float(np.trace(prior.covariance()) / self.dim)

    def times(self, num_steps: int) -> np.ndarray:
        """Decreasing grid (num_steps + 1,) ending at 0, spaced for this mixture.

        A grid uniform in t on the cosine schedule suits unit-variance data; a
        mixture with well separated modes decides between them at low SNR and
        gets too few steps there (100-step DDPM misweights the modes). The
        levels lambda = sigma / alpha follow a Karras grid (rho = 3) from
        10 data stds (at most the schedule's lambda at t = 1; the first draws
        are exact, see ``initial``) down to 2% of the smallest component std,
        mapped back to cosine-schedule times.
        """
        if num_steps < 1:
            raise MethodError(f"num_steps must be >= 1, got {num_steps}")
        # Start where the data is drowned (lambda = 10 data stds; the exact start
        # makes an earlier one pointless), or at t = 1 if that comes first.
        spread = math.sqrt(float(np.max(np.diag(self.prior.covariance()))))
        lam_max = min(self.sigma(1.0) / self.alpha(1.0), GMM_LAMBDA_MAX * spread)
        lam_min = min(GMM_LAMBDA_MIN * math.sqrt(float(np.min(self.prior._eigvals))), lam_max)
        ramp = np.linspace(0.0, 1.0, num_steps) if num_steps > 1 else np.zeros(1)
        rho = GMM_GRID_RHO
        lam = (lam_max ** (1 / rho) + ramp * (lam_min ** (1 / rho) - lam_max ** (1 / rho))) ** rho
        return np.append(_cosine_time(1.0 / (1.0 + lam**2)), 0.0)

    def u0_variance(self, t: float) -> float:
        """Per-coordinate Var(u_0 | u_t) within a component, averaged over the prior's components.

        A component N(mu, diag(lam)) seen through u_t = alpha u_0 + sigma eps leaves
        lam sigma^2 / (alpha^2 lam + sigma^2) per coordinate; the ancestral steps add
        what their point estimate drops (``updates.Transition.u0_var``), so a
        100-step chain keeps the within-mode variance (0.85 without).
        """
        alpha, sigma = self.alpha(t), self.sigma(t)
        lam = self.prior._eigvals                                   # (K, d)
        within = lam * sigma**2 / (alpha**2 * lam + sigma**2)
        return float(self.prior.weights @ within.mean(axis=1))

    def initial(self, key: Any, n: int, tr: Any) -> Any:
        """n exact draws (n, d) of u_t = alpha u_0 + sigma eps at the first time (the diffused mixture).

        Drawn on the host from the backend's normals and uniforms, component by
        component (a (n, d, d) rotation would not fit at d = 800).
        """
        k_which, k_x, k_eps = self.adapter.split(key, 3)
        to_np = self.adapter.to_numpy
        which = np.searchsorted(np.cumsum(self.prior.weights),
                                to_np(self.adapter.uniform(k_which, (n,))) * self.prior.weights.sum())
        which = np.minimum(which, self.prior.num_components - 1)
        x = to_np(self.adapter.normal(k_x, (n, self.dim))).astype(np.float64)
        for k in np.unique(which):  # x0 = mu_k + U_k sqrt(lambda_k) z, per component
            rows = which == k
            x[rows] = self.prior.means[k] + (x[rows] * np.sqrt(self.prior._eigvals[k])) @ self.prior._eigvecs[k].T
        eps = to_np(self.adapter.normal(k_eps, (n, self.dim))).astype(np.float64)
        u = tr.alpha * x + tr.sigma * eps
        return self.xp.asarray(self.adapter.asarray(u), dtype=self.adapter.dtype)

    def _denoise(self, u_t: Any, t: Any) -> Any:
        if self.adapter.is_tracer(t):  # inside jit: the levels are traced too
            t = self.xp.asarray(t, dtype=u_t.dtype)
            alpha, sigma = self.formulation.alpha(t, self.xp), self.formulation.sigma(t, self.xp)
        else:
            alpha, sigma = self.alpha(float(t)), self.sigma(float(t))
        return self.prior.diffused_denoise(u_t, alpha, sigma, self.xp)


def _kind(prior: Any) -> type[DenoiserView]:
    if hasattr(prior, "diffused_denoise"):
        return GMMView
    if hasattr(prior, "denoise") and hasattr(prior, "formulation"):
        return DiffusionPriorView
    raise MethodError(f"{type(prior).__name__} has no denoiser; diffusion posterior samplers "
                      "need a models.DiffusionPrior or models.gmm.GaussianMixturePrior")


def make_view(prior: Any, backend: str, dtype: str | None = None, device: str = "cpu") -> DenoiserView:
    """The view of ``prior`` on a ppl backend ("numpyro" or "pyro").

    Args:
        prior: a DiffusionPrior or GaussianMixturePrior.
        backend: "numpyro" (JAX) or "pyro" (torch).
        dtype: "float32" or "float64"; default: the backend's default float.
        device: "cpu" or "cuda".
    """
    from .adapter import get_adapter

    adapter = get_adapter(backend, device)
    dtype = dtype or str(np.dtype(adapter.to_numpy(adapter.asarray(np.zeros(1))).dtype))
    view = _kind(prior)(prior, adapter, dtype)
    if math.prod(view.event_shape) != view.dim:
        raise MethodError(f"prior event shape {view.event_shape} does not match its dim {view.dim}")
    return view
