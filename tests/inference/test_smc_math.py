"""Backend-shared SMC math: resampling schemes and the tempering bisection."""
import numpy as np
import pytest

from inference.smc.adapter import get_adapter
from inference.smc.estimates import ess_of, log_mean_exp
from inference.smc.resampling import RESAMPLERS
from inference.smc.tempering import next_temperature


@pytest.mark.parametrize("backend", ["numpyro", "pyro"])
@pytest.mark.parametrize("scheme", sorted(RESAMPLERS))
def test_resampling_counts(backend, scheme):
    xp = get_adapter(backend)
    w = np.array([0.5, 0.25, 0.0, 0.125, 0.125])
    with np.errstate(divide="ignore"):
        log_w = np.log(w)
    counts = np.zeros(5)
    for seed in range(200):
        idx = xp.to_numpy(RESAMPLERS[scheme](xp, xp.key(seed), xp.asarray(log_w)))
        c = np.bincount(idx, minlength=5)
        counts += c
        assert c[2] == 0 and c.sum() == 5
        if scheme == "systematic":  # each count is floor or ceil of N w
            assert np.all(np.abs(c - 5 * w) < 1)
    # Unbiased: mean counts within 4 binomial standard errors of N w.
    se = np.sqrt(5 * w * (1 - w) / 200) + 1e-12
    assert np.all(np.abs(counts / 200 - 5 * w) < 4 * se)


def test_next_temperature_keeps_target_ess():
    log_lik = np.random.default_rng(0).normal(0, 10, size=1000)
    beta = next_temperature(log_lik, 0.0, 0.5)
    assert 0 < beta < 1
    assert ess_of(beta * log_lik) == pytest.approx(500, rel=1e-3)
    assert next_temperature(np.zeros(10), 0.3, 0.5) == 1.0


def test_log_mean_exp_standard_error():
    x = np.random.default_rng(1).normal(0, 0.1, size=400)
    est, se = log_mean_exp(x)
    assert abs(est - 0.005) < 4 * se and 0.001 < se < 0.01
