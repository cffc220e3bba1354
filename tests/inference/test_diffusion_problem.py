"""The diffusion-sampler plumbing: denoiser views, problems, registry refusals, configs."""
import numpy as np
import pytest

import ppl
from inference.diffusion import make_problem, make_view
from inference.registry import METHODS
from ppl import dist
from ppl.errors import MethodError, PPLError
from ppl.linear_operators import Dense
from ppl.structure import LinearGaussianObservation

BACKENDS = ("pyro", "numpyro")


def _mixture(d=3, seed=0):
    from models.gmm import GaussianMixturePrior

    rng = np.random.default_rng(seed)
    return GaussianMixturePrior.isotropic([0.3, 0.7], rng.uniform(-2, 2, (2, d)), 0.6)


@ppl.model
def linear_inverse(prior, op, sigma):
    x = ppl.sample("x", prior.as_distribution())
    ppl.sample("y", dist.Normal(op(x), sigma).to_event(1))


@ppl.model
def nonlinear_inverse(prior, sigma):
    x = ppl.sample("x", prior.as_distribution())
    ppl.sample("y", dist.Normal(ppl.ops.tanh(x), sigma).to_event(1))


@ppl.model
def blind_inverse(prior, op):
    sigma = ppl.sample("sigma", dist.HalfNormal(1.0))
    x = ppl.sample("x", prior.as_distribution())
    ppl.sample("y", dist.Normal(op(x), sigma).to_event(1))


@ppl.model
def plain_normal():
    x = ppl.sample("x", dist.Normal(0.0, 1.0))
    ppl.sample("y", dist.Normal(x, 1.0))


@pytest.fixture(scope="module", params=["vp", "edm"])
def tiny_prior(request):
    from models import DiffusionPrior, MLPConfig, two_moons

    data = two_moons(200, np.random.default_rng(0)) * 3.0 + 1.0   # a non-trivial normalisation
    net = MLPConfig(data_dim=2, hidden_dim=16, num_blocks=1, time_embed_dim=8)
    return DiffusionPrior.train(data, steps=5, batch_size=32, seed=3, net=net,
                                formulation=request.param, progress=False)


def test_view_of_a_diffusion_prior_agrees_across_backends(tiny_prior):
    views = [make_view(tiny_prior, b, "float64") for b in BACKENDS]
    times = views[0].times(10)
    np.testing.assert_array_equal(times, tiny_prior.sampling_times(10))
    t = float(times[3])
    if tiny_prior.formulation.name == "edm":
        assert views[0].alpha(t) == 1.0 and views[0].sigma(t) == t
    else:
        assert np.isclose(views[0].alpha(t) ** 2 + views[0].sigma(t) ** 2, 1.0)
    u = np.random.default_rng(1).standard_normal((5, 2))
    out = [v.adapter.to_numpy(v.denoise(v.adapter.asarray(u), t)) for v in views]
    np.testing.assert_allclose(out[0], out[1], rtol=1e-6, atol=1e-8)
    direct = tiny_prior.to("torch", "float64").denoise(views[0].adapter.asarray(u), t)
    np.testing.assert_allclose(out[0], direct.numpy(), rtol=1e-12)
    assert [v.nfe for v in views] == [1, 1]


def test_pull_back_rewrites_the_same_observation(tiny_prior):
    view = make_view(tiny_prior, "pyro", "float64")
    A, y, sigma = np.array([[1.0, -2.0]]), np.array([0.7]), 0.3
    obs = LinearGaussianObservation("x", "y", Dense(A), sigma, y, tiny_prior)
    op, y_u, sigma_u = view.pull_back(obs)
    u = np.random.default_rng(2).standard_normal((4, 2))
    x = view.adapter.to_numpy(view.to_data(view.adapter.asarray(u)))
    # y - A x(u) = scale * (y_u - A u): the same residual, in diffusion-space units.
    np.testing.assert_allclose(y - x @ A.T, view.scale * (y_u - u @ A.T), rtol=1e-10)
    assert sigma_u == pytest.approx(sigma / view.scale) and view.scale != 1.0
    np.testing.assert_allclose(view.adapter.to_numpy(view.from_data(view.adapter.asarray(x))), u)


@pytest.mark.parametrize("backend", BACKENDS)
def test_log_likelihood_and_its_gradient_are_exact(backend):
    prior = _mixture()
    A, sigma = np.array([[1.0, 0.5, -1.0], [0.0, 2.0, 1.0]]), 0.4
    y = np.array([0.3, -1.2])
    program = ppl.compile(linear_inverse(prior, Dense(A), sigma).observe(y=y), backend=backend)
    problem = make_problem(program)
    assert problem.latent == "x" and problem.linear is not None and problem.noise_site is None
    adapter = problem.view.adapter
    u = np.random.default_rng(3).standard_normal((6, 3))
    value, grad, _ = adapter.value_and_grad(lambda v: (problem.log_likelihood(v), None))(adapter.asarray(u))
    resid = y - u @ A.T
    expected = -0.5 * np.sum(resid**2, 1) / sigma**2 - 2 * np.log(np.sqrt(2 * np.pi) * sigma)
    np.testing.assert_allclose(adapter.to_numpy(value), expected, rtol=1e-10)
    np.testing.assert_allclose(adapter.to_numpy(grad), resid @ A / sigma**2, rtol=1e-10)


def test_nonlinear_likelihood_has_no_linear_structure_and_ddrm_refuses():
    prior = _mixture()
    model = nonlinear_inverse(prior, 0.2).observe(y=np.array([0.1, -0.3, 0.5]))
    problem = make_problem(ppl.compile(model, backend="pyro"))
    assert problem.linear is None
    u = np.random.default_rng(4).standard_normal((3, 3))
    ll = problem.view.adapter.to_numpy(problem.log_likelihood(problem.view.adapter.asarray(u)))
    resid = (np.array([0.1, -0.3, 0.5]) - np.tanh(u)) / 0.2
    np.testing.assert_allclose(ll, -0.5 * np.sum(resid**2, 1) - 3 * np.log(np.sqrt(2 * np.pi) * 0.2))
    for method in ("ddrm", "pigdm", "repaint"):
        with pytest.raises(MethodError, match=r"not a single Gaussian observation.*methods that can: .*dps"):
            ppl.infer(model, method=method, backend="pyro", draws=4, num_steps=2, progress=False)
    post = ppl.infer(model, method="dps", backend="pyro", draws=4, num_steps=3, progress=False)
    assert post["x"].shape == (1, 4, 3) and np.isfinite(post["x"]).all()


def test_diffusion_methods_refuse_models_without_a_diffusion_prior():
    model = plain_normal().observe(y=np.array(0.5))
    for method in ("dps", "pigdm", "ddrm", "repaint"):
        with pytest.raises(MethodError, match=r"no latent site with a diffusion prior.*methods that can: .*nuts"):
            ppl.infer(model, method=method, backend="numpyro", progress=False)


def test_gradient_methods_refuse_a_trained_diffusion_prior(tiny_prior):
    model = linear_inverse(tiny_prior, Dense(np.eye(2)), 0.1).observe(y=np.zeros(2))
    with pytest.raises(MethodError, match=r"trained diffusion prior.*methods that can: .*dps"):
        ppl.infer(model, method="nuts", backend="pyro")


def test_methods_needing_a_known_noise_refuse_a_blind_problem():
    prior = _mixture()
    model = blind_inverse(prior, Dense(np.ones((1, 3)))).observe(y=np.array([0.4]))
    with pytest.raises(MethodError, match=r"'sigma' is a latent.*tds.*mcgdiff"):
        ppl.infer(model, method="pigdm", backend="pyro", draws=4, num_steps=2, progress=False)


@pytest.mark.skipif(not {"tds", "mcgdiff"} <= set(METHODS), reason="tds/mcgdiff not registered")
def test_auto_picks_mcgdiff_for_linear_gaussian_and_tds_otherwise():
    from inference.registry import choose_auto

    prior = _mixture()
    linear = linear_inverse(prior, Dense(np.ones((1, 3))), 0.3).observe(y=np.array([0.4]))
    nonlinear = nonlinear_inverse(prior, 0.2).observe(y=np.array([0.1, -0.3, 0.5]))
    assert choose_auto(linear.graph, "pyro")[0] == "mcgdiff"
    name, why = choose_auto(nonlinear.graph, "pyro")
    assert name == "tds" and "mcgdiff" in why and "not a single Gaussian observation" in why
    assert choose_auto(plain_normal().observe(y=np.array(0.5)).graph, "pyro")[0] == "nuts"


def test_bad_settings_and_shapes_are_refused_before_sampling():
    prior = _mixture()
    model = linear_inverse(prior, Dense(np.ones((1, 3))), 0.3).observe(y=np.array([0.4]))
    for options in ({"num_steps": 0}, {"guidance": "bogus"}, {"scale": -1.0}, {"eta": 1.5}):
        with pytest.raises(MethodError, match=next(iter(options))):
            ppl.infer(model, method="dps", backend="pyro", progress=False, **options)
    with pytest.raises(MethodError, match="eta_b"):
        ppl.infer(model, method="ddrm", backend="pyro", eta_b=2.0, progress=False)
    with pytest.raises(PPLError):  # y of the wrong size
        linear_inverse(prior, Dense(np.ones((1, 3))), 0.3).observe(y=np.array([0.4, 0.1]))
    with pytest.raises(PPLError):  # operator that does not fit the prior
        linear_inverse(prior, Dense(np.ones((1, 4))), 0.3).observe(y=np.array([0.4])).graph
    with pytest.raises(PPLError):  # negative noise scale
        linear_inverse(prior, Dense(np.ones((1, 3))), -0.3).observe(y=np.array([0.4])).graph
