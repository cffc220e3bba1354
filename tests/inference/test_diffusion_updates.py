"""The shared DDIM(eta) step and the combination of independent SMC populations."""
from __future__ import annotations

import math

import numpy as np
import pytest

from inference.diffusion.particles import _evidence_weighted_rows
from inference.diffusion.updates import Transition, ancestral_std, ddim_step


def _gaussian_step_variance(v: float, tr: Transition, eta: float) -> float:
    """Variance of u_s after one step from u_t ~ N(0, alpha_t^2 v + sigma_t^2) with the exact denoiser of N(0, v)."""
    var_t = tr.alpha**2 * v + tr.sigma**2
    gain = tr.alpha * v / var_t                        # u0_hat = gain * u_t
    coefficient = float(ddim_step(np.ones(1), gain * np.ones(1), np.zeros(1), tr, eta)[0])  # u_s per unit u_t
    return coefficient**2 * var_t + float(ancestral_std(tr, eta)) ** 2


@pytest.mark.parametrize("v", [0.3, 1.0, 4.0])
@pytest.mark.parametrize("levels", [(0.8, 0.3), (0.95, 0.05), (0.5, 0.45)])
def test_ancestral_step_with_the_posterior_variance_is_exact_for_gaussian_data(v, levels):
    """With Transition.u0_var = Var(u_0 | u_t), one DDPM step maps the exact marginal at t to the one at s."""
    (a_t, a_s) = [math.cos(math.pi / 2 * t) for t in levels]
    s_t, s_s = math.sqrt(1 - a_t**2), math.sqrt(1 - a_s**2)
    posterior_var = v * s_t**2 / (a_t**2 * v + s_t**2)
    exact = Transition(levels[0], levels[1], a_t, s_t, a_s, s_s, posterior_var)
    plain = exact._replace(u0_var=0.0)
    target = a_s**2 * v + s_s**2
    assert _gaussian_step_variance(v, exact, 1.0) == pytest.approx(target, rel=1e-12)
    assert _gaussian_step_variance(v, plain, 1.0) < target * (1 - 1e-3)  # the point estimate's deficit
    # Deterministic DDIM (eta = 0) adds no noise whatever u0_var says.
    assert float(ancestral_std(exact, 0.0)) == 0.0


def test_populations_combine_by_their_evidence():
    rng_uniform = np.array([0.37])
    # Equal evidences: systematic resampling gives every population its equal share.
    idx = _evidence_weighted_rows(rng_uniform, np.zeros(4), per_population=5, draws=20)
    assert np.array_equal(np.bincount(idx // 5, minlength=4), [5, 5, 5, 5])
    # Evidences 1 : 3 (log 3 apart): shares 1/4 and 3/4 of the draws.
    idx = _evidence_weighted_rows(rng_uniform, np.array([0.0, math.log(3.0)]), per_population=10, draws=40)
    assert np.array_equal(np.bincount(idx // 10, minlength=2), [10, 30])
    # A population with negligible evidence gives nothing; indices stay inside the picks.
    idx = _evidence_weighted_rows(np.array([0.99]), np.array([-1e3, 0.0, -1e3]), per_population=3, draws=7)
    assert set(idx // 3) == {1} and idx.max() < 9
