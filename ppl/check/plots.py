"""Plots of calibration checks: SBC rank histograms and the TARP coverage curve."""
from __future__ import annotations

import numpy as np


def _axes(ax, count: int):
    import matplotlib.pyplot as plt

    if ax is not None:
        return np.atleast_1d(ax).ravel()
    cols = min(count, 4)
    rows = -(-count // cols)
    _, axes = plt.subplots(rows, cols, figsize=(3 * cols, 2.4 * rows), squeeze=False)
    return axes.ravel()


def uniform_band(num_simulations: int, bins: int, band: float = 0.99) -> tuple[float, float]:
    """Counts between which one bin of a uniform rank histogram falls with probability ``band``.

    A bin's count is Binomial(num_simulations, 1 / bins).
    """
    from scipy import stats

    tail = (1.0 - band) / 2
    return (float(stats.binom.ppf(tail, num_simulations, 1 / bins)),
            float(stats.binom.ppf(1 - tail, num_simulations, 1 / bins)))


def plot_ranks(result, ax=None, band: float = 0.99):
    """One rank histogram per parameter with the binomial ``band`` of a uniform one.

    Args:
        result: an :class:`~ppl.check.sbc.SBCResult`.
        ax: matplotlib axes (one per parameter), or None to make a figure.
        band: probability mass of the grey band.

    Returns:
        The array of axes.
    """
    axes = _axes(ax, len(result.labels))
    low, high = uniform_band(len(result.ranks), result.bins, band)
    edges = np.linspace(0, result.num_draws + 1, result.bins + 1)
    for k, (label, axis) in enumerate(zip(result.labels, axes)):
        axis.axhspan(low, high, color="0.85", zorder=0, label=f"{band:.0%} band")
        axis.axhline(len(result.ranks) / result.bins, color="0.5", lw=0.8)
        axis.hist(result.ranks[:, k], bins=edges, color="C0", alpha=0.8)
        flag = "" if result.pvalue[k] >= result.alpha else " (flagged)"
        axis.set_title(f"{label}: p = {result.pvalue[k]:.3g}{flag}", fontsize=9)
        axis.set_xlabel("rank")
        axis.set_yticks([])
    for axis in axes[len(result.labels):]:
        axis.set_visible(False)
    return axes


def plot_tarp(result, ax=None):
    """Expected coverage against credibility level, with the diagonal of a calibrated posterior."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(3.5, 3.5))
    ax.plot([0, 1], [0, 1], color="0.5", ls="--", lw=1, label="calibrated")
    ax.plot(result.alpha, result.ecp, color="C0", label="TARP")
    ax.set_xlabel("credibility level")
    ax.set_ylabel("expected coverage")
    ax.set_title(f"ATC {result.atc:+.3f}, KS p = {result.ks_pvalue:.3g}", fontsize=9)
    ax.legend(loc="upper left", fontsize=8)
    return ax
