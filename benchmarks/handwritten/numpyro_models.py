"""The benchmark problems hand-written in NumPyro, as a NumPyro user would."""
from __future__ import annotations

from typing import Any, Callable

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as nd


def eight_schools(sigma, y):
    mu = numpyro.sample("mu", nd.Normal(0.0, 5.0))
    tau = numpyro.sample("tau", nd.HalfCauchy(5.0))
    with numpyro.plate("school", sigma.shape[0]):
        eta = numpyro.sample("eta", nd.Normal(0.0, 1.0))
        theta = numpyro.deterministic("theta", mu + tau * eta)
        numpyro.sample("y", nd.Normal(theta, sigma), obs=y)


def logistic(X, y):
    alpha = numpyro.sample("alpha", nd.Normal(0.0, 1.0))
    beta = numpyro.sample("beta", nd.Normal(0.0, 1.0).expand((X.shape[1],)).to_event(1))
    logits = X @ beta + alpha
    with numpyro.plate("obs", X.shape[0]):
        numpyro.sample("y", nd.Bernoulli(logits=logits), obs=y)


def model_and_args(problem: str, data: dict[str, np.ndarray]) -> tuple[Callable[..., Any], tuple]:
    """The model function and its positional arguments (data as JAX arrays)."""
    arrays = {k: jnp.asarray(v) for k, v in data.items()}
    if problem == "eight_schools":
        return eight_schools, (arrays["sigma"], arrays["y"])
    return logistic, (arrays["X"], arrays["y"])
