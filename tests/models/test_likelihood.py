"""Probability-flow log densities against exact Gaussian-mixture answers."""
import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

from models.backends import jax_jacobian_trace  # noqa: E402
from models.formulations import EDMFormulation, VPFormulation  # noqa: E402
from models.gmm import GaussianMixturePrior  # noqa: E402
from models.likelihood import probability_flow_log_prob  # noqa: E402


@pytest.fixture
def unit_gmm(full_gmm):
    """The shared mixture scaled to roughly unit variance (what the ODE assumes at s_max)."""
    return GaussianMixturePrior(full_gmm.weights, 0.5 * full_gmm.means, 0.25 * full_gmm.covariances)


def _exact_error(gmm, formulation, num_steps):
    with jax.enable_x64(True):
        exact = jax.jit(lambda x, a, s: jax_jacobian_trace(lambda v: gmm.diffused_denoise(v, a, s, jnp), x))

        def denoise_trace(x, t):
            t = np.float64(t)
            return exact(x, formulation.alpha(t), formulation.sigma(t))

        u = jnp.asarray(gmm.sample(5, np.random.default_rng(0)))
        log_p = probability_flow_log_prob(u, denoise_trace, formulation, num_steps, jnp)
        return float(np.max(np.abs(np.asarray(log_p) - np.asarray(gmm.log_prob(u)))))


@pytest.mark.parametrize("formulation", [VPFormulation(), EDMFormulation()], ids=["vp", "edm"])
def test_ode_log_prob_converges_to_exact(unit_gmm, formulation):
    coarse, fine = _exact_error(unit_gmm, formulation, 16), _exact_error(unit_gmm, formulation, 64)
    assert fine < 0.1 and fine < coarse / 8  # Heun: second order in the step size


def test_prior_log_prob_same_on_both_backends():
    torch = pytest.importorskip("torch")
    from models import DiffusionPrior, MLPConfig, two_moons

    data = two_moons(200, np.random.default_rng(0))
    prior = DiffusionPrior.train(data, steps=5, batch_size=16, formulation="edm", progress=False,
                                 net=MLPConfig(data_dim=2, hidden_dim=16, num_blocks=1, time_embed_dim=8))
    x = data[:4].astype(np.float32)
    on_torch = prior.log_prob(torch.as_tensor(x), num_steps=8).numpy()
    on_jax = np.asarray(prior.to("jax").log_prob(jnp.asarray(x), num_steps=8))
    assert on_torch.shape == (4,) and np.all(np.isfinite(on_torch))
    np.testing.assert_allclose(on_jax, on_torch, rtol=1e-4, atol=1e-4)
