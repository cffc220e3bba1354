"""Backend-shared SMC math: resampling schemes, the tempering bisection, batched chains."""
import warnings

import numpy as np
import pytest
import scipy.stats as st
import torch

import ppl
from inference.smc import chain_seeds, sample_chains
from inference.smc.adapter import get_adapter
from inference.smc.adapter_numpy import HOST
from inference.smc.config import SMCConfig
from inference.smc.estimates import ess_of, log_evidence_of_runs, log_mean_exp
from inference.smc.resampling import RESAMPLERS, resample_each
from inference.smc.tempering import next_temperature
from inference.smc.torch_random import OutOfPlaceRandom
from ppl.testing import normal_normal

W = np.array([0.5, 0.25, 0.0, 0.125, 0.125])


def _check_counts(counts, w, draws):
    # Unbiased: mean counts within 4 binomial standard errors of N w.
    se = np.sqrt(len(w) * w * (1 - w) / draws) + 1e-12
    assert np.all(np.abs(counts / draws - len(w) * w) < 4 * se), (counts / draws, len(w) * w)


@pytest.mark.parametrize("backend", ["numpyro", "pyro"])
@pytest.mark.parametrize("scheme", sorted(RESAMPLERS))
def test_resampling_counts(backend, scheme):
    xp = get_adapter(backend)
    with np.errstate(divide="ignore"):
        log_w = np.log(W)
    counts = np.zeros(5)
    for seed in range(200):
        idx = xp.to_numpy(RESAMPLERS[scheme](xp, xp.key(seed), xp.asarray(log_w)))
        c = np.bincount(idx, minlength=5)
        counts += c
        assert c[2] == 0 and c.sum() == 5
        if scheme == "systematic":  # each count is floor or ceil of N w
            assert np.all(np.abs(c - 5 * W) < 1)
    _check_counts(counts, W, 200)


def _adapter(backend):
    return HOST if backend == "host" else get_adapter(backend)


@pytest.mark.parametrize("backend", ["host", "numpyro", "pyro"])
@pytest.mark.parametrize("scheme", sorted(RESAMPLERS))
def test_batched_resampling_counts_per_chain(backend, scheme):
    # Chain 1 has the weights reversed: each chain must resample from its own weights.
    xp, rng = _adapter(backend), np.random.default_rng(5)
    w = np.stack([W, W[::-1]])
    with np.errstate(divide="ignore"):
        log_w = xp.asarray(np.log(w))
    counts = np.zeros((2, 5))
    for _ in range(100):
        idx = xp.to_numpy(resample_each(xp, scheme, xp.asarray(rng.random((2, 5))), log_w))
        c = np.stack([np.bincount(row, minlength=5) for row in idx])
        counts += c
        assert c[0, 2] == 0 and c[1, 2] == 0 and np.all(c.sum(1) == 5)
    for chain in range(2):
        _check_counts(counts[chain], w[chain], 100)


@pytest.mark.parametrize("backend", ["host", "numpyro", "pyro"])
def test_next_temperature_keeps_target_ess_per_chain(backend):
    xp = _adapter(backend)
    rng = np.random.default_rng(0)
    log_lik = np.stack([rng.normal(0, 10, 1000), rng.normal(0, 3, 1000), np.zeros(1000)])
    log_lik[1, :10] = -np.inf  # dead particles: the step must still keep the ESS
    beta = np.array([0.0, 0.2, 0.3])
    new = xp.to_numpy(next_temperature(xp, xp.asarray(log_lik), xp.asarray(beta), 0.5))
    for c in range(2):
        assert beta[c] < new[c] < 1
        w = np.where(np.isneginf(log_lik[c]), -np.inf, (new[c] - beta[c]) * log_lik[c])
        assert ess_of(w) == pytest.approx(500, rel=1e-3)
    assert new[2] == 1.0


def test_log_mean_exp_standard_error():
    x = np.random.default_rng(1).normal(0, 0.1, size=400)
    est, se = log_mean_exp(x)
    assert abs(est - 0.005) < 4 * se and 0.001 < se < 0.01


@pytest.mark.parametrize("spread", [1.5, 2.0])
def test_log_evidence_of_runs_covers_heavy_tailed_runs(spread):
    # 2000 repetitions of 64 runs whose log Z_i ~ N(-s^2/2, s^2), so E[Z_i] = 1 (log Z = 0),
    # the log-normal shape SMC evidence takes. 2-se intervals must hold 0 about 95% of the
    # time; the binomial sd of the coverage is 0.005, the bounds are 4-6 of it away.
    reps, runs = 2000, 64
    log_z = np.random.default_rng(7).normal(-spread**2 / 2, spread, size=(reps, runs))
    new = np.array([log_evidence_of_runs(row) for row in log_z])
    old = np.array([log_mean_exp(row) for row in log_z])
    coverage = lambda est: np.mean(np.abs(est[:, 0]) < 2 * est[:, 1])  # noqa: E731
    assert 0.93 < coverage(new) < 0.99
    assert coverage(old) < 0.9  # the sample sd of heavy-tailed Z_i reads small
    np.testing.assert_array_equal(new[:, 0], old[:, 0])  # same estimate, wider error


def test_log_evidence_of_runs_matches_log_mean_exp_for_tight_runs():
    x = np.random.default_rng(2).normal(0.0, 0.05, size=64)
    assert log_evidence_of_runs(x)[1] == pytest.approx(log_mean_exp(x)[1], rel=0.05)
    assert np.isnan(log_evidence_of_runs(x[:1])[1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # runs hundreds of nats apart: an unbounded error, quietly
        assert log_evidence_of_runs(np.array([0.0, -900.0, -np.inf]))[1] == np.inf


# Seeds under which the chains take different numbers of tempering steps.
@pytest.mark.parametrize("backend,seed", [("numpyro", 0), ("pyro", 0)])
def test_batched_chains_match_chains_run_alone(backend, seed):
    # Each chain draws only from its own generator, and a finished chain is frozen, so
    # running a chain beside others must give exactly what it gives alone.
    y = np.random.default_rng(3).normal(1.0, 0.1, size=200)
    program = ppl.compile(normal_normal(200, 0.1).observe(y=y), backend=backend)
    cfg = SMCConfig(particles=60, chains=4, progress=False, seed=seed, mcmc_steps=2)
    _, batch, xp = sample_chains(program, cfg)
    steps = batch.steps
    assert len(set(steps.tolist())) > 1, steps  # chains finish at different steps
    for c in (int(np.argmin(steps)), int(np.argmax(steps))):
        _, alone, _ = sample_chains(program, cfg, seeds=[chain_seeds(cfg)[c]])
        np.testing.assert_allclose(xp.to_numpy(alone.particles.position)[0],
                                   xp.to_numpy(batch.particles.position)[c], rtol=1e-10)
        np.testing.assert_allclose(alone.records[:, 0], batch.records[:, c, :alone.steps[0]],
                                   rtol=1e-10)
        assert alone.steps[0] == steps[c]


FILLS = {  # torch distribution (made under the test's float64 default) -> the law in scipy
    "normal": (lambda: torch.distributions.Normal(1.0, 2.0), st.norm(1.0, 2.0)),
    "half_cauchy": (lambda: torch.distributions.HalfCauchy(1.5), st.halfcauchy(scale=1.5)),
    "exponential": (lambda: torch.distributions.Exponential(2.0), st.expon(scale=0.5)),
    "laplace": (lambda: torch.distributions.Laplace(0.5, 1.0), st.laplace(0.5, 1.0)),
    "log_normal": (lambda: torch.distributions.LogNormal(0.0, 0.5), st.lognorm(0.5)),
}


@pytest.mark.parametrize("name", sorted(FILLS))
def test_out_of_place_fills_draw_the_same_law_under_vmap(name):
    make_law, reference = FILLS[name]
    law = make_law()
    torch.manual_seed(0)
    with OutOfPlaceRandom():
        draws = torch.func.vmap(lambda _: law.sample(), randomness="different")(
            torch.arange(4000)).numpy()
    assert len(np.unique(draws)) == len(draws)  # one independent draw per batch member
    assert st.kstest(draws, reference.cdf).pvalue > 1e-3
