"""Simulation-based calibration (Talts et al., 2018).

If theta ~ prior, x ~ p(x | theta) and the posterior is right, the rank of
theta among L posterior draws is uniform on {0, ..., L}. We randomise ties
and map ranks to ``u = (rank + U) / (L + 1)``, which is exactly Uniform(0, 1)
under calibration, then test uniformity per scalar parameter with a
chi-square test on equiprobable bins and a Kolmogorov-Smirnov test, both
Bonferroni-corrected over tests and parameters.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import ParameterError
from .runs import InferSpec, Runs, simulate_and_infer


@dataclass(frozen=True)
class SBCResult:
    """Rank statistics and uniformity tests of one SBC run.

    Attributes:
        labels: scalar parameter labels, e.g. ``("mu", "w[0]", "w[1]")``.
        ranks: rank of each truth among the thinned draws, (num_simulations, num_params),
            integers in [0, num_draws].
        num_draws: posterior draws each rank is taken against (L).
        chi2: chi-square statistic per parameter; ``chi2_pvalue`` its p-value.
        ks: Kolmogorov-Smirnov statistic per parameter; ``ks_pvalue`` its p-value.
        pvalue: min of the two p-values, Bonferroni-corrected over tests and parameters.
        alpha: level below which a parameter is flagged as miscalibrated.
        bins: number of equiprobable bins of the chi-square test and the histogram.
        runs: the truths and posterior draws (for TARP and plots).
        notes: warnings, e.g. remaining autocorrelation after thinning.
    """

    labels: tuple[str, ...]
    ranks: np.ndarray
    num_draws: int
    chi2: np.ndarray
    chi2_pvalue: np.ndarray
    ks: np.ndarray
    ks_pvalue: np.ndarray
    pvalue: np.ndarray
    alpha: float
    bins: int
    runs: Runs | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def calibrated(self) -> bool:
        """Whether no parameter is flagged at level ``alpha``."""
        return bool(np.all(self.pvalue >= self.alpha))

    @property
    def flagged(self) -> tuple[str, ...]:
        """Labels of the parameters whose ranks are not uniform."""
        return tuple(lab for lab, p in zip(self.labels, self.pvalue) if p < self.alpha)

    def summary(self):
        """A pandas DataFrame, one row per parameter (like ``arviz.summary``)."""
        import pandas as pd

        return pd.DataFrame({
            "rank_mean": self.ranks.mean(0) / self.num_draws, "chi2": self.chi2,
            "chi2_pvalue": self.chi2_pvalue, "ks": self.ks, "ks_pvalue": self.ks_pvalue,
            "pvalue": self.pvalue, "calibrated": self.pvalue >= self.alpha,
        }, index=list(self.labels)).round(4)

    def plot(self, ax=None, band: float = 0.99):
        """Rank histograms with the band a uniform histogram stays in; see :func:`plots.plot_ranks`."""
        from .plots import plot_ranks

        return plot_ranks(self, ax=ax, band=band)

    def tarp(self, seed: int = 0):
        """TARP expected coverage from the same runs; see :func:`tarp.tarp`."""
        from .tarp import tarp

        return tarp(self.runs.draws, self.runs.truths, seed=seed)

    def __repr__(self) -> str:
        verdict = "calibrated" if self.calibrated else f"miscalibrated: {', '.join(self.flagged)}"
        return (f"<SBCResult {len(self.ranks)} simulations x {self.num_draws} draws, "
                f"{len(self.labels)} parameters: {verdict}>")


def thin_indices(num_available: int, num_draws: int) -> np.ndarray:
    """Evenly spaced indices: spacing draws apart is what thins MCMC autocorrelation."""
    return np.linspace(0, num_available - 1, num_draws).round().astype(int)


def ranks_of(truths: np.ndarray, draws: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rank of each truth among its draws, ties broken at random.

    Args:
        truths: (num_simulations, num_params).
        draws: (num_simulations, num_draws, num_params).

    Returns:
        Integer ranks in [0, num_draws], shape (num_simulations, num_params).
    """
    below = (draws < truths[:, None]).sum(1)
    ties = (draws == truths[:, None]).sum(1)  # discrete parameters: spread ties uniformly
    return below + np.floor(rng.random(below.shape) * (ties + 1)).astype(int)


def uniformity_tests(ranks: np.ndarray, num_draws: int, bins: int,
                     rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Chi-square and KS tests of ranks against the discrete uniform, per column."""
    from scipy import stats

    u = (ranks + rng.random(ranks.shape)) / (num_draws + 1)  # exactly U(0, 1) if calibrated
    counts = np.stack([np.histogram(col, bins=bins, range=(0, 1))[0] for col in u.T])
    chi2, chi2_p = stats.chisquare(counts, axis=1)
    ks = [stats.kstest(col, "uniform") for col in u.T]
    return {"chi2": np.asarray(chi2), "chi2_pvalue": np.asarray(chi2_p),
            "ks": np.array([k.statistic for k in ks]), "ks_pvalue": np.array([k.pvalue for k in ks])}


def default_bins(num_simulations: int, num_draws: int) -> int:
    """About 5 expected ranks per bin, at most 20 bins and at most L + 1."""
    return int(np.clip(num_simulations // 5, 2, min(20, num_draws + 1)))


def sbc_from_runs(runs: Runs, num_draws: int | None = None, alpha: float = 0.01,
                  bins: int | None = None, seed: int = 0) -> SBCResult:
    """SBC ranks and tests from truths and posterior draws already computed."""
    available = runs.draws.shape[1]
    num_draws = min(num_draws or available, available)
    draws = runs.draws[:, thin_indices(available, num_draws)]
    rng = np.random.default_rng(seed)
    ranks = ranks_of(runs.truths, draws, rng)
    bins = bins or default_bins(len(ranks), num_draws)
    tests = uniformity_tests(ranks, num_draws, bins, rng)
    num_tests = 2 * ranks.shape[1]
    pvalue = np.minimum(1.0, num_tests * np.minimum(tests["chi2_pvalue"], tests["ks_pvalue"]))
    return SBCResult(runs.labels, ranks, num_draws, pvalue=pvalue, alpha=alpha, bins=bins,
                     runs=runs, notes=_notes(runs, num_draws), **tests)


def _notes(runs: Runs, num_draws: int) -> tuple[str, ...]:
    low = np.nanmean(runs.ess < num_draws) if np.isfinite(runs.ess).any() else 0.0
    if low > 0.1:
        return (f"{low:.0%} of posteriors have an ESS below the {num_draws} draws ranked: "
                "ranks are autocorrelated and the tests over-reject; run longer chains or "
                "rank fewer draws",)
    return ()


def sbc(model, observed: str | Sequence[str], infer: InferSpec = "nuts",
        num_simulations: int = 100, draws_per_posterior: int | None = 100,
        infer_options: Mapping[str, Any] | None = None, parameters: Sequence[str] | None = None,
        backend: str = "numpyro", alpha: float = 0.01, bins: int | None = None, seed: int = 0,
        progress: bool = False) -> SBCResult:
    """Simulation-based calibration of any inference method on a model.

    Args:
        model: a ``ppl.Model``; its observations, if any, are dropped.
        observed: the sample site(s) treated as data.
        infer: a ``ppl.infer`` method name ("nuts", "svi", "smc", ...) or a
            callable ``observed_values -> Posterior`` (exact or amortized
            posteriors, e.g. ``lambda obs: q.posterior(x=obs["x"], draws=200)``).
        num_simulations: number of simulated data sets.
        draws_per_posterior: L, posterior draws each rank is taken against;
            longer runs are thinned to L evenly spaced draws.
        infer_options: method options for ``ppl.infer`` (e.g. ``{"draws": 500}``).
        parameters: latent sites to check (default: all latents not observed).
        backend: "numpyro" or "pyro".
        alpha: family-wise level of the uniformity tests.
        bins: histogram bins (default: ~5 ranks per bin, at most 20).
        seed: seeds the simulations, the inference runs and tie-breaking.
        progress: show a progress bar over simulations.

    Returns:
        An :class:`SBCResult`; ``result.summary()`` tabulates the tests.
    """
    if num_simulations < 2:
        raise ParameterError(f"sbc needs at least 2 simulations, got {num_simulations}")
    if not 0 < alpha < 1:
        raise ParameterError(f"alpha must lie in (0, 1), got {alpha}")
    runs = simulate_and_infer(model, observed, infer, num_simulations, parameters,
                              infer_options, backend, seed, progress)
    return sbc_from_runs(runs, draws_per_posterior, alpha, bins, seed)
