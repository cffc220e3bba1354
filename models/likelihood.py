"""Log densities of diffusion models via the probability-flow ODE.

In the variance-exploding coordinates y = x / alpha(t), with noise level
s = sigma / alpha, the probability-flow ODE is dy/ds = (y - D(alpha y, t)) / s
and the log density evolves as d log p(y_s) / ds = -div f. Integrating from
data (s = s_min ~ 0) up to s_max, where p is close to N(0, (1 + s_max^2) I) for
unit-variance data, gives

    log p_0(u) = log N(y_max; 0, (1 + s_max^2) I) + int div f ds.

The divergence is exact (one Jacobian trace per evaluation) and the ODE is
integrated with Heun's method on a Karras grid of levels. This is the
formulation- and backend-neutral core; ``DiffusionPrior.log_prob`` wraps it.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from models.schedules import karras_sigmas

# Denoise-and-trace: (x (n, d), t) -> (E[x0 | x_t] (n, d), trace dD/dx (n,)).
DenoiseTrace = Callable[[Any, float], tuple[Any, Any]]


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


def _drift_div(denoise_trace: DenoiseTrace, formulation, y, s: float, t: float):
    alpha = float(formulation.alpha(np.float64(t)))
    x0, trace = denoise_trace(alpha * y, t)
    dim = y.shape[1]
    return (y - x0) / s, (dim - alpha * trace) / s


def probability_flow_log_prob(u, denoise_trace: DenoiseTrace, formulation, num_steps: int, xp) -> Any:
    """log p(u) of the diffusion model at clean points u.

    Args:
        u: points in diffusion space, shape (n, d).
        denoise_trace: denoiser with exact Jacobian trace.
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
        drift, div = _drift_div(denoise_trace, formulation, y, s, float(times[i]))
        y_euler = y + (s_next - s) * drift
        drift_next, div_next = _drift_div(denoise_trace, formulation, y_euler, s_next, float(times[i + 1]))
        y = y + (s_next - s) * 0.5 * (drift + drift_next)
        integral = integral + (s_next - s) * 0.5 * (div + div_next)
    var = 1.0 + float(levels[-1]) ** 2
    dim = u.shape[1]
    log_terminal = -0.5 * xp.sum(y**2, axis=1) / var - 0.5 * dim * math.log(2 * math.pi * var)
    return log_terminal + integral
