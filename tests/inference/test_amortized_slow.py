"""sbibm's gaussian_linear (10-d) at 10^4 simulations: NPE and NPSE within C2ST 0.6 of the exact posterior.

sbibm: theta ~ N(0, 0.1 I), x | theta ~ N(theta, 0.1 I), so theta | x ~
N(x / 2, 0.05 I). The classifier two-sample test is ``ppl.check.c2st``
(sbibm's definition) on 10^4 draws against 10^4 exact draws.
"""
from __future__ import annotations

import numpy as np
import pytest

import ppl
from ppl import dist

DIM, SIMULATIONS, DRAWS = 10, 10_000, 10_000


@ppl.model
def gaussian_linear():
    theta = ppl.sample("theta", dist.Normal(np.zeros(DIM), np.sqrt(0.1)).to_event(1))
    ppl.sample("x", dist.Normal(theta, np.sqrt(0.1)).to_event(1))


@pytest.mark.slow
@pytest.mark.parametrize("to", ["flow", "diffusion"])
@pytest.mark.parametrize("backend", ["numpyro", "pyro"])
def test_gaussian_linear_c2st_at_ten_thousand_simulations(to, backend):
    gen = np.random.default_rng(11)
    x_obs = gen.normal(0.0, np.sqrt(0.2), DIM)  # a draw from the prior predictive
    exact = x_obs / 2 + np.sqrt(0.05) * gen.standard_normal((DRAWS, DIM))
    q = ppl.amortize(gaussian_linear(), observed="x", to=to, simulations=SIMULATIONS, backend=backend, seed=0)
    draws = q.posterior(x=x_obs, draws=DRAWS, seed=1).flat("theta")
    accuracy = ppl.check.c2st(exact, draws, seed=0)
    print(f"{to}/{backend}: C2ST {accuracy:.3f}, training {q.training_seconds:.1f} s, {q.info['epochs']} epochs")
    assert accuracy <= 0.6
