"""TARP expected coverage probability (Lemos et al., 2023).

For each simulation pick a random reference point, and ask which fraction f
of the posterior draws lies closer to it than the true parameter does. For a
correct posterior the truth is exchangeable with the draws, so f is uniform
and the expected coverage ECP(alpha) = P(f < alpha) equals alpha: the curve
lies on the diagonal. Unlike per-parameter SBC, this tests the joint
posterior with one number. We randomise the rank (as in SBC), which makes f
exactly uniform under calibration, so the KS p-value is exact.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ShapeError


@dataclass(frozen=True)
class TARPResult:
    """Expected coverage of a posterior over many simulations.

    Attributes:
        alpha: credibility levels, (num_levels,), from 0 to 1.
        ecp: expected coverage at each level, (num_levels,).
        coverage: the per-simulation fractions f, (num_simulations,).
        atc: area between the curve and the diagonal above alpha = 0.5,
            ``integral_{0.5}^{1} (ECP - alpha)``: < 0 overconfident (too narrow),
            > 0 underconfident (too wide).
        ks_statistic: sup |ECP(alpha) - alpha| of the fractions f.
        ks_pvalue: Kolmogorov-Smirnov p-value of f against Uniform(0, 1).
    """

    alpha: np.ndarray
    ecp: np.ndarray
    coverage: np.ndarray
    atc: float
    ks_statistic: float
    ks_pvalue: float

    def calibrated(self, level: float = 0.01) -> bool:
        """Whether the KS test accepts a diagonal coverage curve at ``level``."""
        return self.ks_pvalue >= level

    def summary(self):
        """A one-row pandas DataFrame (ATC, KS statistic and p-value)."""
        import pandas as pd

        return pd.DataFrame({"atc": [self.atc], "ks": [self.ks_statistic],
                             "ks_pvalue": [self.ks_pvalue], "num_simulations": [len(self.coverage)]},
                            index=["tarp"]).round(4)

    def plot(self, ax=None):
        """The coverage curve against the diagonal; see :func:`plots.plot_tarp`."""
        from .plots import plot_tarp

        return plot_tarp(self, ax=ax)


def _normalise(draws: np.ndarray, truths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Distances must not be dominated by the parameter with the largest scale.
    mean, std = truths.mean(0), truths.std(0)
    std = np.where(std > 0, std, 1.0)
    return (draws - mean) / std, (truths - mean) / std


def tarp(draws, truths, references=None, num_levels: int = 101, seed: int = 0) -> TARPResult:
    """TARP expected coverage of posterior draws.

    Args:
        draws: posterior draws per simulation, (num_simulations, num_draws, dim).
        truths: the parameters that generated each simulation, (num_simulations, dim).
        references: reference points (num_simulations, dim) in the normalised
            space; by default uniform in the bounding box of the truths.
        num_levels: points of the alpha grid.
        seed: seeds the references and the rank randomisation.

    Returns:
        A :class:`TARPResult`.
    """
    from scipy import stats

    draws, truths = np.asarray(draws, float), np.asarray(truths, float)
    if draws.ndim != 3 or truths.shape != (draws.shape[0], draws.shape[2]):
        raise ShapeError(f"tarp needs draws (num_simulations, num_draws, dim) and truths "
                         f"(num_simulations, dim), got {draws.shape} and {truths.shape}")
    draws, truths = _normalise(draws, truths)
    rng = np.random.default_rng(seed)
    if references is None:
        references = rng.uniform(truths.min(0), truths.max(0), size=truths.shape)
    draw_dist = np.linalg.norm(draws - references[:, None], axis=-1)  # (n, L)
    truth_dist = np.linalg.norm(truths - references, axis=-1)  # (n,)
    closer = (draw_dist < truth_dist[:, None]).sum(1)
    ties = (draw_dist == truth_dist[:, None]).sum(1)
    coverage = (closer + rng.random(len(closer)) * (ties + 1)) / (draws.shape[1] + 1)
    alpha = np.linspace(0.0, 1.0, num_levels)
    ecp = (coverage[None, :] < alpha[:, None]).mean(1)
    upper = alpha >= 0.5
    atc = float(np.trapezoid(ecp[upper] - alpha[upper], alpha[upper]))
    ks = stats.kstest(coverage, "uniform")
    return TARPResult(alpha, ecp, coverage, atc, float(ks.statistic), float(ks.pvalue))
