"""The benchmark problems hand-written in Pyro, as a Pyro user would."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pyro
import pyro.distributions as pd
import torch


def eight_schools(sigma, y):
    mu = pyro.sample("mu", pd.Normal(0.0, 5.0))
    tau = pyro.sample("tau", pd.HalfCauchy(5.0))
    with pyro.plate("school", sigma.shape[0]):
        eta = pyro.sample("eta", pd.Normal(0.0, 1.0))
        theta = pyro.deterministic("theta", mu + tau * eta)
        pyro.sample("y", pd.Normal(theta, sigma), obs=y)


def logistic(X, y):
    alpha = pyro.sample("alpha", pd.Normal(0.0, 1.0))
    beta = pyro.sample("beta", pd.Normal(0.0, 1.0).expand((X.shape[1],)).to_event(1))
    logits = X @ beta + alpha
    with pyro.plate("obs", X.shape[0]):
        pyro.sample("y", pd.Bernoulli(logits=logits), obs=y)


def model_and_args(problem: str, data: dict[str, np.ndarray]) -> tuple[Callable[..., Any], tuple]:
    """The model function and its positional arguments (float32 tensors, torch's default)."""
    tensors = {k: torch.as_tensor(v, dtype=torch.get_default_dtype()) for k, v in data.items()}
    if problem == "eight_schools":
        return eight_schools, (tensors["sigma"], tensors["y"])
    return logistic, (tensors["X"], tensors["y"])
