"""The SMC / SVI benchmark's problems hand-written in NumPyro, Pyro and PyMC.

Written as a user of each library would, with the site names, priors and
likelihood of :mod:`benchmarks.smc_vi_problems`. Each builder imports its own
library, so a worker process loads only the one it measures.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .smc_vi_problems import LR_PRIOR_SD, NN_PRIOR


# -- NumPyro -------------------------------------------------------------------------------
def numpyro_model_and_args(problem: str, data: dict[str, np.ndarray]) -> tuple[Callable, tuple]:
    """``(model, args)`` such that ``model(*args)`` is the observed model."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    def normal_normal(sigma, y):
        mu = numpyro.sample("mu", dist.Normal(NN_PRIOR[0], NN_PRIOR[1]))
        with numpyro.plate("obs", y.shape[0]):
            numpyro.sample("y", dist.Normal(mu, sigma), obs=y)

    def linreg(x, sigma, y):
        w = numpyro.sample("w", dist.Normal(0.0, LR_PRIOR_SD).expand([x.shape[1]]).to_event(1))
        with numpyro.plate("obs", x.shape[0]):
            numpyro.sample("y", dist.Normal(x @ w, sigma), obs=y)

    y, sigma = jnp.asarray(data["y"]), float(data["sigma"])
    if problem == "normal_normal":
        return normal_normal, (sigma, y)
    return linreg, (jnp.asarray(data["x"]), sigma, y)


# -- Pyro ------------------------------------------------------------------------------------
def pyro_model_and_args(problem: str, data: dict[str, np.ndarray]) -> tuple[Callable, tuple]:
    """``(model, args)`` such that ``model(*args)`` is the observed model (float32 tensors)."""
    import pyro
    import pyro.distributions as dist
    import torch

    def normal_normal(sigma, y):
        mu = pyro.sample("mu", dist.Normal(NN_PRIOR[0], NN_PRIOR[1]))
        with pyro.plate("obs", y.shape[0]):
            pyro.sample("y", dist.Normal(mu, sigma), obs=y)

    def linreg(x, sigma, y):
        w = pyro.sample("w", dist.Normal(0.0, LR_PRIOR_SD).expand([x.shape[1]]).to_event(1))
        with pyro.plate("obs", x.shape[0]):
            pyro.sample("y", dist.Normal(x @ w, sigma), obs=y)

    def tensor(a: np.ndarray) -> Any:
        return torch.as_tensor(a, dtype=torch.get_default_dtype())

    y, sigma = tensor(data["y"]), float(data["sigma"])
    if problem == "normal_normal":
        return normal_normal, (sigma, y)
    return linreg, (tensor(data["x"]), sigma, y)


# -- PyMC ------------------------------------------------------------------------------------
def pymc_model(problem: str, data: dict[str, np.ndarray]) -> Any:
    """The observed ``pm.Model``."""
    import pymc as pm

    with pm.Model() as model:
        if problem == "normal_normal":
            mu = pm.Normal("mu", NN_PRIOR[0], NN_PRIOR[1])
            pm.Normal("y", mu, float(data["sigma"]), observed=data["y"])
        else:
            w = pm.Normal("w", 0.0, LR_PRIOR_SD, shape=data["x"].shape[1])
            pm.Normal("y", pm.math.dot(data["x"], w), float(data["sigma"]), observed=data["y"])
    return model
