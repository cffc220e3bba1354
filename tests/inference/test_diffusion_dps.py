"""DPS on a learned EDM prior, its trust region, compiled chains and per-draw stats.

An EDM prior's noise levels reach sigma = 80, where DPS's "score" rule took
gradient steps of size ~ sigma^2 on a sharp likelihood and diverged
geometrically (1e31 in float64, all draws inf/NaN in float32) until its
correction got a trust region; a tiny EDM prior on the 8x8 digits (trained for
a few hundred steps) shows it, in float32 as the examples run. Success is
measured against the plain reconstruction from y: the posterior mean's PSNR
gain over it must exceed 4 standard errors of the per-digit gain (measured
+4.2 +- 0.6 dB ("chung") and +6.8 +- 0.9 dB ("score") at 20 steps on 6 digits
with a 300-step prior).
"""
import numpy as np
import pytest

import ppl
from ppl import dist, linops

SHAPE, SIGMA_Y, DIGITS = (1, 8, 8), 0.05, 5


@pytest.fixture(autouse=True)
def _use_float64():
    """Overrides tests/inference's float64 default: the digits run in float32, as the
    examples do; the exact comparisons below ask for ``float64`` themselves."""
    yield


@pytest.fixture(scope="module")
def edm_prior():
    from models import DiffusionPrior, MLPConfig, load_digits

    return DiffusionPrior.train(load_digits("train").images, steps=300, formulation="edm", lr=2e-3,
                                batch_size=128, net=MLPConfig(data_dim=64, hidden_dim=128),
                                progress=False)


@ppl.model
def inpainting(prior_dist, op):
    x = ppl.sample("x", prior_dist)
    ppl.sample("y", dist.Normal(op(x), SIGMA_Y))


def _psnr(estimate, truth):
    return 10 * np.log10(4.0 / np.mean((estimate - truth) ** 2))  # pixels in [-1, 1]


def _psnr_gains(prior, backend, **options):
    """Posterior-mean PSNR minus zero-fill PSNR on random half-masks of DIGITS test digits."""
    from models import load_digits

    gains, prior_dist = [], prior.as_distribution()
    for i, truth in enumerate(load_digits("test").images[:DIGITS]):
        op = linops.random_mask(SHAPE, 0.5, seed=i)
        clean = np.asarray(op.apply(truth, np))
        y = clean + SIGMA_Y * np.random.default_rng(i).standard_normal(clean.shape)
        post = ppl.infer(inpainting(prior_dist, op).observe(y=y), method="dps", backend=backend, num_steps=20,
                         draws=32, seed=i, progress=False, **options)
        x = post.samples["x"]
        assert np.isfinite(x).all() and not post.notes, post.notes
        gains.append(_psnr(x.mean(axis=(0, 1)), truth) - _psnr(np.asarray(op.adjoint_apply(y, np)), truth))
    return np.asarray(gains)


@pytest.mark.parametrize("backend,guidance", [("pyro", "score"), ("pyro", "chung"), ("numpyro", "score")])
def test_dps_on_an_edm_prior_is_finite_and_beats_the_observation(edm_prior, backend, guidance):
    gains = _psnr_gains(edm_prior, backend, guidance=guidance)
    assert gains.mean() > 4 * gains.std(ddof=1) / np.sqrt(len(gains)), gains


def test_trust_region_shrinks_only_long_corrections(float64):
    import torch

    from inference.diffusion.adapter import get_adapter
    from inference.diffusion.updates import trusted
    from inference.diffusion.updates import Transition

    tr = Transition(0.5, 0.4, alpha=0.8, sigma=0.6, alpha_next=0.9, sigma_next=0.4)
    level2 = (0.6 / 0.8) ** 2
    limit = 2.0 * np.sqrt(level2 / (1 + level2) * 4)
    shift = torch.tensor([[3.0 * limit, 0, 0, 0], [0, 0.5 * limit, 0, 0]], dtype=torch.float64)
    out = trusted(shift, tr, 2.0, 1.0, get_adapter("pyro").xp).numpy()
    np.testing.assert_allclose(out, [[limit, 0, 0, 0], [0, 0.5 * limit, 0, 0]], rtol=1e-12)


def _gaussian_inverse(seed: int):
    from models.gmm import GaussianMixturePrior

    rng = np.random.default_rng(seed)
    prior = GaussianMixturePrior.isotropic(np.full(3, 1 / 3), rng.uniform(-2, 2, (3, 4)), 0.5)
    A = rng.standard_normal((2, 4))
    return prior, A, A @ prior.sample(1, rng)[0] + 0.3 * rng.standard_normal(2)


@ppl.model
def dense_model(prior_dist, op):
    x = ppl.sample("x", prior_dist)
    ppl.sample("y", dist.Normal(op(x), 0.3).to_event(1))


def dense_inverse(prior, A):
    return dense_model(prior.as_distribution(), linops.Dense(A))


def test_compiled_dps_chain_is_shared_across_problems_and_counts_nfe(float64):
    """Two problems of one structure: one compilation, the NFE of every step, and the
    same draws as a run that compiled afresh."""
    from inference.diffusion import adapter_backends

    runs = []
    for seed in (0, 1):
        prior, A, y = _gaussian_inverse(seed)
        before = len(adapter_backends._PROGRAMS)
        post = ppl.infer(dense_inverse(prior, A).observe(y=y), method="dps", backend="numpyro", draws=64,
                         num_steps=9, chains=2, seed=3, progress=False)
        runs.append((post, len(adapter_backends._PROGRAMS) - before))
        assert post.extras["nfe"] == 9 and np.isfinite(post["x"]).all()
    assert runs[1][1] == 0  # the second problem reused the first one's program
    adapter_backends._PROGRAMS.clear()
    prior, A, y = _gaussian_inverse(1)
    fresh = ppl.infer(dense_inverse(prior, A).observe(y=y), method="dps", backend="numpyro", draws=64,
                      num_steps=9, chains=2, seed=3, progress=False)
    np.testing.assert_allclose(runs[1][0]["x"], fresh["x"], rtol=1e-10, atol=1e-12)


def test_jit_shared_lifts_constants_to_arguments(float64):
    import jax.numpy as jnp

    from inference.diffusion.adapter import get_adapter

    adapter = get_adapter("numpyro")
    results = []
    for scale in (np.arange(3.0), np.arange(3.0) + 10):
        const = jnp.asarray(scale)
        results.append(adapter.jit_shared(lambda u, c=const: {"out": u * c + 1.0})(jnp.ones(3))["out"])
    np.testing.assert_allclose(results[0], np.arange(3.0) + 1)
    np.testing.assert_allclose(results[1], np.arange(3.0) + 11)


@pytest.mark.parametrize("method", ["dps", "pigdm", "ddrm", "repaint"])
@pytest.mark.parametrize("backend", ["pyro", "numpyro"])
def test_unweighted_methods_report_each_draws_log_likelihood(method, backend, float64):
    prior, A, y = _gaussian_inverse(2)
    post = ppl.infer(dense_inverse(prior, A).observe(y=y), method=method, backend=backend, draws=16,
                     num_steps=6, chains=2, seed=0, progress=False)
    x = post["x"]                                                        # (2, 16, 4)
    resid = (y - x @ A.T) / 0.3
    expected = -0.5 * np.sum(resid**2, -1) - 2 * np.log(np.sqrt(2 * np.pi) * 0.3)
    np.testing.assert_allclose(post.sample_stats["data_log_lik"], expected, rtol=1e-8)
    idata = post.to_arviz()
    assert idata.sample_stats["data_log_lik"].shape == (2, 16)


def test_dps_refuses_a_latent_noise_scale():
    from ppl.errors import MethodError

    prior, A, y = _gaussian_inverse(0)
    op = linops.Dense(A)

    @ppl.model
    def blind():
        x = ppl.sample("x", prior.as_distribution())
        ppl.sample("y", dist.Normal(op(x), ppl.sample("sigma", dist.HalfNormal(1.0))).to_event(1))

    for backend in ("pyro", "numpyro"):
        with pytest.raises(MethodError, match=r"latent noise scale 'sigma'.*tds"):
            ppl.infer(blind().observe(y=y), method="dps", backend=backend, draws=4, num_steps=3, progress=False)
