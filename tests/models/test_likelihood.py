"""Probability-flow log densities against exact Gaussian-mixture answers."""
import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

from models.backends import JaxArrays, TorchArrays  # noqa: E402
from models.formulations import EDMFormulation, VPFormulation  # noqa: E402
from models.gmm import GaussianMixturePrior  # noqa: E402
from models.likelihood import TraceEstimator, make_denoise_trace, probability_flow_log_prob  # noqa: E402

EXACT = TraceEstimator(method="exact")


@pytest.fixture
def unit_gmm(full_gmm):
    """The shared mixture scaled to roughly unit variance (what the ODE assumes at s_max)."""
    return GaussianMixturePrior(full_gmm.weights, 0.5 * full_gmm.means, 0.25 * full_gmm.covariances)


@pytest.fixture
def gmm6():
    """A 6-D mixture with correlated covariances: a Jacobian with sizeable off-diagonal terms."""
    gen = np.random.default_rng(3)
    factors = gen.standard_normal((3, 6, 6)) / np.sqrt(6)
    covs = factors @ np.swapaxes(factors, 1, 2) * 0.3 + 0.05 * np.eye(6)
    return GaussianMixturePrior(np.array([0.3, 0.3, 0.4]), 0.6 * gen.standard_normal((3, 6)), covs)


def _ode_log_prob(gmm, formulation, num_steps, backend, estimator=EXACT, n=5, copies=1):
    """log p of n exact draws, each repeated ``copies`` times, by the ODE with the mixture's
    exact denoiser: float64 numpy (copies, n)."""
    if backend == "jax":
        arrays = JaxArrays("float64")
        denoise_at = jax.jit(lambda x, a, s: gmm.diffused_denoise(x, a, s, jnp))
    else:
        arrays = TorchArrays("float64")
        denoise_at = lambda x, a, s: gmm.diffused_denoise(x, a, s, arrays.xp)  # noqa: E731

    def denoise(x, t):
        t = np.float64(t)
        return denoise_at(x, float(formulation.alpha(t)), float(formulation.sigma(t)))

    u = arrays.asarray(np.tile(gmm.sample(n, np.random.default_rng(0)), (copies, 1)))
    trace = make_denoise_trace(denoise, arrays, estimator, gmm.dim)
    log_p = probability_flow_log_prob(u, trace, formulation, num_steps, arrays.xp)
    return arrays.to_numpy(log_p).reshape(copies, n)


def _exact_error(gmm, formulation, num_steps):
    with jax.enable_x64(True):
        log_p = _ode_log_prob(gmm, formulation, num_steps, "jax")[0]
        u = gmm.sample(5, np.random.default_rng(0))
        return float(np.max(np.abs(log_p - gmm.log_prob(u))))


@pytest.mark.parametrize("formulation", [VPFormulation(), EDMFormulation()], ids=["vp", "edm"])
def test_ode_log_prob_converges_to_exact(unit_gmm, formulation):
    coarse, fine = _exact_error(unit_gmm, formulation, 16), _exact_error(unit_gmm, formulation, 64)
    assert fine < 0.1 and fine < coarse / 8  # Heun: second order in the step size


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_hutchinson_is_unbiased_and_close_to_exact(gmm6, backend):
    """Single-probe estimates, independent over copies of each point, average to the exact trace.

    The ODE path does not depend on the trace, so the only difference between the
    two is the estimator's error, which must have mean zero: the tolerance is a
    4-standard-error band computed from the spread of the estimates themselves.
    Rows get independent probes, so ``copies`` repeats of a point in one solve are
    ``copies`` independent estimates.
    """
    pytest.importorskip("torch")
    formulation, steps, seeds = EDMFormulation(), 12, 40
    with jax.enable_x64(True):
        exact = _ode_log_prob(gmm6, formulation, steps, backend)[0]
        draws = _ode_log_prob(gmm6, formulation, steps, backend, TraceEstimator("hutchinson", num_probes=1),
                              copies=seeds)
        many = _ode_log_prob(gmm6, formulation, steps, backend, TraceEstimator("hutchinson", num_probes=32))[0]
    std_err = draws.std(axis=0, ddof=1) / np.sqrt(seeds)
    assert np.all(std_err > 1e-4)  # the estimator is genuinely random: the test is not vacuous
    assert np.all(np.abs(draws.mean(axis=0) - exact) < 4 * std_err)
    # 32 probes per evaluation: the error shrinks like 1/sqrt(probes) (sd ~ sqrt(40/32) std_err).
    assert np.all(np.abs(many - exact) < 5 * np.sqrt(seeds / 32) * std_err)


def test_trace_estimator_is_seeded_and_auto_picks_by_dimension(gmm6):
    with jax.enable_x64(True):
        run = lambda est: _ode_log_prob(gmm6, EDMFormulation(), 8, "jax", est)  # noqa: E731
        first, again = run(TraceEstimator("hutchinson", seed=1)), run(TraceEstimator("hutchinson", seed=1))
        other = run(TraceEstimator("hutchinson", seed=2))
        np.testing.assert_array_equal(first, again)
        assert not np.allclose(first, other)
        np.testing.assert_allclose(run(TraceEstimator("auto", exact_max_dim=6)), run(EXACT), rtol=1e-12)
        np.testing.assert_allclose(run(TraceEstimator("auto", exact_max_dim=5, seed=1)), first, rtol=1e-12)
    with pytest.raises(ValueError, match="trace method"):
        TraceEstimator("stochastic")


def test_prior_log_prob_same_on_both_backends():
    torch = pytest.importorskip("torch")
    from models import DiffusionPrior, MLPConfig, two_moons

    data = two_moons(200, np.random.default_rng(0))
    prior = DiffusionPrior.train(data, steps=5, batch_size=16, formulation="edm", progress=False,
                                 net=MLPConfig(data_dim=2, hidden_dim=16, num_blocks=1, time_embed_dim=8))
    x = data[:4].astype(np.float32)
    for trace in (EXACT, TraceEstimator("hutchinson", num_probes=2, seed=3)):
        on_torch = prior.log_prob(torch.as_tensor(x), num_steps=8, trace=trace).numpy()
        on_jax = np.asarray(prior.to("jax").log_prob(jnp.asarray(x), num_steps=8, trace=trace))
        assert on_torch.shape == (4,) and np.all(np.isfinite(on_torch))
        # The probes come from numpy, so both backends estimate with the same ones.
        np.testing.assert_allclose(on_jax, on_torch, rtol=1e-4, atol=1e-4)
