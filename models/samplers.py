"""Samplers for diffusion priors, written once for every backend.

All samplers work in the variance-exploding coordinates y = x / alpha(t)
(so y = x0 + s eps with s = sigma(t) / alpha(t)); the VP and EDM processes
then share one set of update rules, and each update is exactly the usual one
(DDPM posterior step, DDIM eta = 0 step, EDM Heun step).

A sampler is ``fn(denoise, times, x_init, noise, formulation, xp) -> x0`` with

* ``denoise(x, t) -> E[x0 | x_t = x]`` for x of shape (n, d), t a float,
* ``times``: decreasing numpy grid, shape (num_steps + 1,), last entry 0,
* ``x_init``: draw of x at ``times[0]``, shape (n, d),
* ``noise``: standard normals of shape (num_steps, n, d) (used by DDPM) or None.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

Denoise = Callable[[Any, float], Any]


def _levels(formulation, t: float) -> tuple[float, float]:
    """(alpha, VE noise level s = sigma / alpha) at time t, as floats."""
    t = np.float64(t)
    alpha = float(formulation.alpha(t))
    return alpha, float(formulation.sigma(t)) / alpha


def ddim(denoise: Denoise, times, x_init, noise, formulation, xp) -> Any:
    """Deterministic DDIM (eta = 0), i.e. Euler on the probability-flow ODE in y."""
    x = x_init
    for t_cur, t_next in zip(times[:-1], times[1:]):
        alpha, s = _levels(formulation, t_cur)
        alpha_next, s_next = _levels(formulation, t_next)
        x0 = denoise(x, float(t_cur))
        y_next = x0 + (s_next / s) * (x / alpha - x0)
        x = alpha_next * y_next
    return x


def ddpm(denoise: Denoise, times, x_init, noise, formulation, xp) -> Any:
    """Ancestral sampling from q(x_s | x_t, x0 = denoise(x_t, t))."""
    x = x_init
    for i, (t_cur, t_next) in enumerate(zip(times[:-1], times[1:])):
        alpha, s = _levels(formulation, t_cur)
        alpha_next, s_next = _levels(formulation, t_next)
        x0 = denoise(x, float(t_cur))
        ratio = (s_next / s) ** 2
        std = s_next * np.sqrt(max(1.0 - ratio, 0.0))
        y_next = x0 + ratio * (x / alpha - x0) + std * noise[i]
        x = alpha_next * y_next
    return x


def heun(denoise: Denoise, times, x_init, noise, formulation, xp) -> Any:
    """EDM's deterministic 2nd-order Heun sampler (Karras et al. 2022, Alg. 1)."""
    alpha, s = _levels(formulation, times[0])
    y = x_init / alpha
    for t_cur, t_next in zip(times[:-1], times[1:]):
        alpha, s = _levels(formulation, t_cur)
        alpha_next, s_next = _levels(formulation, t_next)
        slope = (y - denoise(alpha * y, float(t_cur))) / s
        y_next = y + (s_next - s) * slope
        if s_next > 0:  # the last step to s = 0 is a plain Euler step
            slope_next = (y_next - denoise(alpha_next * y_next, float(t_next))) / s_next
            y_next = y + (s_next - s) * 0.5 * (slope + slope_next)
        y = y_next
    return alpha_next * y


SAMPLERS: dict[str, Callable] = {"ddim": ddim, "ddpm": ddpm, "heun": heun}
NEEDS_NOISE = frozenset({"ddpm"})


def initial_std(formulation, t: float) -> float:
    """Std of x at time t for unit-variance data: sqrt(alpha^2 + sigma^2)."""
    t = np.float64(t)
    return float(np.sqrt(formulation.alpha(t) ** 2 + formulation.sigma(t) ** 2))
