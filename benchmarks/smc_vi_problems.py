"""Conjugate problems of the SMC / SVI benchmark, with closed-form evidence.

Each problem exists once as data plus its exact log evidence and posterior,
and once per library: the ppl DSL here, hand-written NumPyro, Pyro and PyMC
models in :mod:`benchmarks.smc_vi_handwritten`. All versions share site
names, priors, likelihood and data, so they target the same posterior.

Libraries are imported inside functions: a benchmark worker must carry only
the libraries of the contender it measures.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

# The data never depend on --seed: changing the sampler seed must not change the task.
DATA_SEED = 0


@dataclass(frozen=True)
class Problem:
    """A conjugate benchmark problem.

    Attributes:
        name: registry key.
        description: one line for the report.
        make_data: ``make_data() -> dict`` of numpy arrays (includes ``y``).
        exact: ``exact(data) -> (log_evidence, posterior_mean (D,), posterior_sd (D,))``.
        ppl_model: ``ppl_model(data) -> ppl.Model`` (observed).
        latent: the single latent site (its draws are (chain, draw[, D])).
    """

    name: str
    description: str
    make_data: Callable[[], dict[str, np.ndarray]]
    exact: Callable[[dict[str, np.ndarray]], tuple[float, np.ndarray, np.ndarray]]
    ppl_model: Callable[[dict[str, np.ndarray]], Any]
    latent: str


def gaussian_evidence(y: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> float:
    """log N(y; mean, cov): the evidence of a linear-Gaussian model, y marginalised."""
    from scipy import stats

    return float(stats.multivariate_normal(mean, cov).logpdf(y))


# -- normal-normal, known variance --------------------------------------------------------
NN_PRIOR = (1.0, 2.0)  # mu ~ Normal(1, 2)
NN_SIGMA, NN_NUM_OBS = 1.3, 50


def normal_normal_data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(DATA_SEED)
    return {"y": rng.normal(2.5, NN_SIGMA, size=NN_NUM_OBS), "sigma": np.float64(NN_SIGMA)}


def normal_normal_exact(data: dict[str, np.ndarray]) -> tuple[float, np.ndarray, np.ndarray]:
    y, (m0, s0), sigma = data["y"], NN_PRIOR, float(data["sigma"])
    n = len(y)
    log_z = gaussian_evidence(y, np.full(n, m0), s0 ** 2 * np.ones((n, n)) + sigma ** 2 * np.eye(n))
    precision = 1 / s0 ** 2 + n / sigma ** 2
    mean = (m0 / s0 ** 2 + y.sum() / sigma ** 2) / precision
    return log_z, np.array([mean]), np.array([precision ** -0.5])


def normal_normal_ppl(data: dict[str, np.ndarray]) -> Any:
    import ppl
    from ppl import dist

    @ppl.model
    def normal_normal(n, sigma):
        mu = ppl.sample("mu", dist.Normal(NN_PRIOR[0], NN_PRIOR[1]))
        with ppl.plate("obs", n):
            ppl.sample("y", dist.Normal(mu, sigma))

    return normal_normal(len(data["y"]), float(data["sigma"])).observe(y=data["y"])


# -- Bayesian linear regression, known noise -------------------------------------------------
LR_PRIOR_SD, LR_SIGMA, LR_NUM_OBS, LR_DIM = 1.5, 0.7, 100, 5


def linreg_data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(DATA_SEED + 1)
    x = rng.normal(size=(LR_NUM_OBS, LR_DIM))
    w = rng.normal(0.0, 1.0, size=LR_DIM)
    return {"x": x, "y": x @ w + LR_SIGMA * rng.normal(size=LR_NUM_OBS),
            "sigma": np.float64(LR_SIGMA)}


def linreg_exact(data: dict[str, np.ndarray]) -> tuple[float, np.ndarray, np.ndarray]:
    x, y, sigma = data["x"], data["y"], float(data["sigma"])
    log_z = gaussian_evidence(y, np.zeros(len(y)),
                              sigma ** 2 * np.eye(len(y)) + LR_PRIOR_SD ** 2 * x @ x.T)
    cov = np.linalg.inv(np.eye(x.shape[1]) / LR_PRIOR_SD ** 2 + x.T @ x / sigma ** 2)
    return log_z, cov @ x.T @ y / sigma ** 2, np.sqrt(np.diag(cov))


def linreg_ppl(data: dict[str, np.ndarray]) -> Any:
    import ppl
    from ppl import dist

    @ppl.model
    def linear_regression(x, sigma):
        w = ppl.sample("w", dist.Normal(0.0, LR_PRIOR_SD).expand((x.shape[1],)).to_event(1))
        with ppl.plate("obs", x.shape[0]):
            ppl.sample("y", dist.Normal(x @ w, sigma))

    return linear_regression(data["x"], float(data["sigma"])).observe(y=data["y"])


PROBLEMS: dict[str, Problem] = {p.name: p for p in [
    Problem("normal_normal",
            f"normal–normal, known variance: mu ~ N(1, 2), y_i ~ N(mu, {NN_SIGMA}), "
            f"N = {NN_NUM_OBS}", normal_normal_data, normal_normal_exact, normal_normal_ppl, "mu"),
    Problem("linreg",
            f"Bayesian linear regression, known noise: w ~ N(0, {LR_PRIOR_SD})^{LR_DIM}, "
            f"y ~ N(Xw, {LR_SIGMA}), N = {LR_NUM_OBS}", linreg_data, linreg_exact, linreg_ppl,
            "w"),
]}
