"""The NUTS benchmark's problems: data and the models written in the ppl DSL.

Each problem's hand-written twins live in ``benchmarks/handwritten/``; all
versions of a problem share site names, priors, likelihood and data, so their
posteriors are the same distribution and min-ESS numbers are comparable.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

import ppl
from ppl import dist

# The data never depend on --seed: changing the sampler seed must not change the task.
DATA_SEED = 0


@dataclass(frozen=True)
class ProblemSize:
    """Sizes of the synthetic logistic-regression data.

    Attributes:
        num_obs: rows N of the design matrix.
        num_features: columns D.
    """

    num_obs: int = 5000
    num_features: int = 20


@dataclass(frozen=True)
class Problem:
    """A benchmark problem.

    Attributes:
        name: registry key.
        description: one line for the report.
        make_data: ``make_data(size) -> dict`` of numpy arrays; includes the observations.
        ppl_model: ``ppl_model(data) -> ppl.Model``, observed.
        latents: names of the latent sites whose ESS counts (deterministics excluded).
    """

    name: str
    description: str
    make_data: Callable[[ProblemSize], dict[str, np.ndarray]]
    ppl_model: Callable[[dict[str, np.ndarray]], ppl.Model]
    latents: tuple[str, ...]


# -- eight schools, non-centered --------------------------------------------------------
def eight_schools_data(size: ProblemSize) -> dict[str, np.ndarray]:
    """Rubin's (1981) SAT-coaching data; ``size`` does not apply."""
    return {"y": np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0]),
            "sigma": np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])}


@ppl.model
def eight_schools(sigma):
    mu = ppl.sample("mu", dist.Normal(0.0, 5.0))
    tau = ppl.sample("tau", dist.HalfCauchy(5.0))
    with ppl.plate("school", len(sigma)):
        eta = ppl.sample("eta", dist.Normal(0.0, 1.0))
        theta = ppl.deterministic("theta", mu + tau * eta)
        ppl.sample("y", dist.Normal(theta, sigma))


def eight_schools_ppl(data: dict[str, np.ndarray]) -> ppl.Model:
    return eight_schools(data["sigma"]).observe(y=data["y"])


# -- logistic regression ----------------------------------------------------------------
def logistic_data(size: ProblemSize) -> dict[str, np.ndarray]:
    """Standard-normal features; true coefficients N(0, 0.5^2) keep the classes overlapping."""
    rng = np.random.default_rng(DATA_SEED)
    X = rng.normal(size=(size.num_obs, size.num_features))
    beta = rng.normal(0.0, 0.5, size=size.num_features)
    logits = X @ beta + 0.3
    y = (rng.uniform(size=size.num_obs) < 1.0 / (1.0 + np.exp(-logits))).astype(np.int64)
    return {"X": X, "y": y}


@ppl.model
def logistic_regression(X):
    alpha = ppl.sample("alpha", dist.Normal(0.0, 1.0))
    beta = ppl.sample("beta", dist.Normal(0.0, 1.0).expand((X.shape[1],)).to_event(1))
    logits = X @ beta + alpha
    with ppl.plate("obs", X.shape[0]):
        ppl.sample("y", dist.Bernoulli(logits=logits))


def logistic_ppl(data: dict[str, np.ndarray]) -> ppl.Model:
    return logistic_regression(data["X"]).observe(y=data["y"])


PROBLEMS: dict[str, Problem] = {
    "eight_schools": Problem("eight_schools", "eight schools, non-centered (J = 8)",
                             eight_schools_data, eight_schools_ppl, ("mu", "tau", "eta")),
    "logistic": Problem("logistic", "logistic regression, synthetic (N x D features)",
                        logistic_data, logistic_ppl, ("alpha", "beta")),
}


def describe(problem: Problem, size: ProblemSize) -> str:
    """The problem's description with its actual sizes filled in."""
    if problem.name == "logistic":
        return f"logistic regression, synthetic, N = {size.num_obs}, D = {size.num_features}"
    return problem.description


def as_kwargs(size: ProblemSize) -> dict[str, Any]:
    return {"num_obs": size.num_obs, "num_features": size.num_features}
