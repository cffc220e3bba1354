"""Noise schedules, written once against an array namespace ``xp``.

Variance-preserving (VP) schedules map continuous time t in [0, 1] to
alpha_bar(t) (x_t = sqrt(alpha_bar) x0 + sqrt(1 - alpha_bar) eps); they are
registered by name in ``VP_SCHEDULES``. Variance-exploding (EDM) sampling uses
the Karras et al. (2022) sigma grid.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

# Keeps 1 - alpha_bar > 0 at t = 1 so the denoiser never divides by zero;
# sqrt(1e-4) = 1% of signal left at the start of sampling.
ALPHA_BAR_MIN = 1e-4


def cosine_alpha_bar(t, xp=np, offset: float = 0.008):
    """Nichol & Dhariwal (2021) cosine schedule, clipped to [ALPHA_BAR_MIN, 1]."""
    angle = (t + offset) / (1.0 + offset) * (math.pi / 2)
    value = xp.cos(angle) ** 2 / math.cos(offset / (1.0 + offset) * math.pi / 2) ** 2
    return xp.clip(value, ALPHA_BAR_MIN, 1.0)


def linear_alpha_bar(t, xp=np, beta_min: float = 0.1, beta_max: float = 20.0):
    """Continuous DDPM linear-beta schedule (VP-SDE of Song et al., 2021)."""
    return xp.exp(-(beta_min * t + 0.5 * (beta_max - beta_min) * t**2))


VP_SCHEDULES: dict[str, Callable] = {"cosine": cosine_alpha_bar, "linear": linear_alpha_bar}


def karras_sigmas(num_steps: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> np.ndarray:
    """Decreasing EDM noise levels, shape (num_steps + 1,), last entry 0.

    Args:
        num_steps: number of denoiser steps.
        sigma_min: smallest non-zero level.
        sigma_max: first level.
        rho: curvature; larger spends more steps at low noise.
    """
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    ramp = np.linspace(0.0, 1.0, num_steps) if num_steps > 1 else np.zeros(1)
    inv_max, inv_min = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
    sigmas = (inv_max + ramp * (inv_min - inv_max)) ** rho
    return np.append(sigmas, 0.0)


def uniform_times(num_steps: int, t_max: float = 1.0) -> np.ndarray:
    """Decreasing times from t_max to 0, shape (num_steps + 1,)."""
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    return np.linspace(t_max, 0.0, num_steps + 1)
