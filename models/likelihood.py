"""Log densities of diffusion models via the probability-flow ODE.

In the variance-exploding coordinates y = x / alpha(t), with noise level
s = sigma / alpha, the probability-flow ODE is dy/ds = (y - D(alpha y, t)) / s
and the log density evolves as d log p(y_s) / ds = -div f. Integrating from
data (s = s_min ~ 0) up to s_max, where p is close to N(0, (1 + s_max^2) I) for
unit-variance data, gives

    log p_0(u) = log N(y_max; 0, (1 + s_max^2) I) + int div f ds.

The divergence needs the trace of the denoiser's Jacobian at every ODE
evaluation: exact (one backward pass per coordinate) for small dimension, or
Hutchinson's unbiased estimate E[v^T J v] with Rademacher probes v (one
Jacobian-vector product per probe) otherwise; ``TraceEstimator`` chooses. Fresh
probes are drawn at every evaluation (seeded by the estimator's seed and the
evaluation index), so the estimator's errors average over the solve instead of
adding up coherently, and the result is a deterministic function of the seed.
The ODE is integrated with Heun's method on a Karras grid of levels. This is the
formulation- and backend-neutral core; ``DiffusionPrior.log_prob`` wraps it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from models.schedules import karras_sigmas

# Denoise-and-trace: (x (n, d), t, evaluation index) -> (E[x0 | x_t] (n, d), trace dD/dx (n,)).
# The index (0, 1, ... over one solve) seeds stochastic trace estimators; exact ones ignore it.
DenoiseTrace = Callable[[Any, float, int], tuple[Any, Any]]
Denoise = Callable[[Any, float], Any]
TRACE_METHODS = ("exact", "hutchinson", "auto")


@dataclass(frozen=True)
class TraceEstimator:
    """How the Jacobian trace (the ODE's divergence) is computed.

    Attributes:
        method: ``"exact"`` (d backward passes per evaluation), ``"hutchinson"``
            (``num_probes`` Jacobian-vector products, unbiased, random) or
            ``"auto"``: exact when the dimension is at most ``exact_max_dim``.
        num_probes: Rademacher probe vectors per evaluation (Hutchinson).
        exact_max_dim: largest dimension ``"auto"`` computes exactly.
        seed: seeds the probes; equal seeds give equal log densities.
    """

    method: str = "auto"
    num_probes: int = 4
    exact_max_dim: int = 16
    seed: int = 0

    def __post_init__(self):
        if self.method not in TRACE_METHODS:
            raise ValueError(f"unknown trace method {self.method!r}; choose from {TRACE_METHODS}")
        if self.num_probes < 1 or self.exact_max_dim < 0:
            raise ValueError(f"invalid TraceEstimator {self}")

    def resolve(self, dim: int) -> str:
        """``"exact"`` or ``"hutchinson"`` for events of dimension ``dim``."""
        if self.method != "auto":
            return self.method
        return "exact" if dim <= self.exact_max_dim else "hutchinson"

    def probes(self, index: int, shape: tuple[int, ...]) -> np.ndarray:
        """Rademacher probes (+-1, float64) of evaluation ``index``, ``shape`` (num_probes, n, d).

        Drawn with numpy from (seed, index), so both backends see the same probes
        and agree on the estimate, also when JAX traces the call.
        """
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, index]))
        return 2.0 * rng.integers(0, 2, size=shape) - 1.0


def make_denoise_trace(denoise: Denoise, arrays, estimator: TraceEstimator, dim: int) -> DenoiseTrace:
    """A ``DenoiseTrace`` from a denoiser ``(x (n, d), t) -> (n, d)`` on a backend.

    Args:
        denoise: E[x0 | x_t] at time t, differentiable on ``arrays``' backend.
        arrays: ``TorchArrays`` / ``JaxArrays`` (or a backend): jacobian_trace,
            hutchinson_trace, asarray.
        estimator: exact or Hutchinson trace.
        dim: event dimension d (picks the method for ``"auto"``).
    """
    method = estimator.resolve(dim)

    def denoise_trace(x_t, t, index):
        fn = lambda v: denoise(v, t)  # noqa: E731
        if method == "exact":
            return arrays.jacobian_trace(fn, x_t)
        probes = estimator.probes(index, (estimator.num_probes, *x_t.shape))
        return arrays.hutchinson_trace(fn, x_t, arrays.asarray(probes))

    return denoise_trace


def noise_levels(formulation, num_steps: int, s_min: float = 2e-3) -> tuple[np.ndarray, np.ndarray]:
    """Increasing VE levels s and matching times t, each shape (num_steps + 1,)."""
    t_max = formulation.sampling_times(1)[0]
    s_max = float(formulation.sigma(np.float64(t_max)) / formulation.alpha(np.float64(t_max)))
    levels = karras_sigmas(num_steps, s_min, s_max)[:-1][::-1]
    grid = np.linspace(0.0, t_max, 20_001)[1:]
    s_grid = formulation.sigma(grid) / formulation.alpha(grid)
    # EDM: t = s. VP: invert the monotone map t -> s numerically.
    times = levels if formulation.name == "edm" else np.interp(levels, s_grid, grid)
    return levels, times


def _drift_div(denoise_trace: DenoiseTrace, formulation, y, s: float, t: float, index: int):
    alpha = float(formulation.alpha(np.float64(t)))
    x0, trace = denoise_trace(alpha * y, t, index)
    dim = y.shape[1]
    return (y - x0) / s, (dim - alpha * trace) / s


def probability_flow_log_prob(u, denoise_trace: DenoiseTrace, formulation, num_steps: int, xp) -> Any:
    """log p(u) of the diffusion model at clean points u.

    Args:
        u: points in diffusion space, shape (n, d).
        denoise_trace: denoiser with its Jacobian trace (exact or estimated),
            e.g. from ``make_denoise_trace``.
        formulation: the prior's formulation (for the level <-> time map).
        num_steps: Heun steps.
        xp: array namespace of ``u``.

    Returns:
        Array of shape (n,).
    """
    levels, times = noise_levels(formulation, num_steps)
    y, integral = u, 0.0
    for i in range(len(levels) - 1):
        s, s_next = float(levels[i]), float(levels[i + 1])
        drift, div = _drift_div(denoise_trace, formulation, y, s, float(times[i]), 2 * i)
        y_euler = y + (s_next - s) * drift
        drift_next, div_next = _drift_div(denoise_trace, formulation, y_euler, s_next, float(times[i + 1]),
                                          2 * i + 1)
        y = y + (s_next - s) * 0.5 * (drift + drift_next)
        integral = integral + (s_next - s) * 0.5 * (div + div_next)
    var = 1.0 + float(levels[-1]) ** 2
    dim = u.shape[1]
    log_terminal = -0.5 * xp.sum(y**2, axis=1) / var - 0.5 * dim * math.log(2 * math.pi * var)
    return log_terminal + integral
