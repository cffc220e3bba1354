"""The result every inference method returns."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Posterior:
    """Draws and diagnostics of one inference run.

    Attributes:
        samples: site name -> constrained draws, shape (chain, draw, *site_shape),
            for latent and deterministic sites.
        sample_stats: stat name -> array (chain, draw), e.g. ``diverging``,
            ``acceptance_rate``, ``step_size``, ``tree_depth``, ``energy``, ``lp``.
        method: the method's registered name.
        backend: "numpyro" or "pyro".
        config: the method's frozen config.
        timings: seconds spent, e.g. ``{"compile": .., "sampling": .., "total": ..}``.
        program: the compiled program (for predictive draws and log-likelihoods).
        log_evidence: log marginal likelihood estimate, when the method gives one.
        log_evidence_se: its Monte Carlo standard error.
        notes: why the method was chosen, warnings raised while running.
        extras: method-specific results that are not per-draw, e.g. the SVI loss
            trace and learned parameters, or SMC's per-step temperatures and ESS.
    """

    samples: dict[str, np.ndarray]
    sample_stats: dict[str, np.ndarray]
    method: str
    backend: str
    config: Any
    timings: dict[str, float]
    program: Any
    log_evidence: float | None = None
    log_evidence_se: float | None = None
    notes: list[str] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def num_chains(self) -> int:
        return next(iter(self.samples.values())).shape[0]

    @property
    def num_draws(self) -> int:
        return next(iter(self.samples.values())).shape[1]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.samples[name]

    def flat(self, name: str) -> np.ndarray:
        """Draws of one site with chains merged: shape (chain * draw, *site_shape)."""
        x = self.samples[name]
        return x.reshape((-1,) + x.shape[2:])

    def to_arviz(self, prior: bool = False, posterior_predictive: bool = False,
                 log_likelihood: bool = False, num_prior_samples: int = 500, seed: int = 0) -> Any:
        """An ``arviz.InferenceData`` with plate names as dims.

        Always has posterior, sample_stats, observed_data and constant_data;
        ``prior``, ``posterior_predictive`` and ``log_likelihood`` groups are
        computed on request (``log_likelihood=True`` makes ``az.loo`` work).
        """
        from .arviz_io import to_inference_data

        return to_inference_data(self, prior=prior, posterior_predictive=posterior_predictive,
                                 log_likelihood=log_likelihood,
                                 num_prior_samples=num_prior_samples, seed=seed)

    def __repr__(self) -> str:
        names = ", ".join(self.samples)
        return (f"<Posterior {self.method} on {self.backend}: {self.num_chains} chains x "
                f"{self.num_draws} draws of {names}>")
