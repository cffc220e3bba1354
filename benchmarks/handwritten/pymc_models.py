"""The benchmark problems hand-written in PyMC, as a PyMC user would."""
from __future__ import annotations

import numpy as np
import pymc as pm


def eight_schools(data: dict[str, np.ndarray]) -> pm.Model:
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 5.0)
        tau = pm.HalfCauchy("tau", 5.0)
        eta = pm.Normal("eta", 0.0, 1.0, shape=len(data["sigma"]))
        theta = pm.Deterministic("theta", mu + tau * eta)
        pm.Normal("y", theta, data["sigma"], observed=data["y"])
    return model


def logistic(data: dict[str, np.ndarray]) -> pm.Model:
    X = data["X"]
    with pm.Model() as model:
        alpha = pm.Normal("alpha", 0.0, 1.0)
        beta = pm.Normal("beta", 0.0, 1.0, shape=X.shape[1])
        pm.Bernoulli("y", logit_p=pm.math.dot(X, beta) + alpha, observed=data["y"])
    return model


MODELS = {"eight_schools": eight_schools, "logistic": logistic}
