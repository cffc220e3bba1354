"""Learned priors as sites of a ppl model, on both backends."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("numpyro")
pytest.importorskip("pyro")
import scipy.stats as st  # noqa: E402

import ppl  # noqa: E402
from models import DiffusionPrior, FlowPrior, MLPConfig, VAEConfig, VAEPrior, two_moons  # noqa: E402
from models.data import load_digits  # noqa: E402
from ppl import dist  # noqa: E402

Y = np.array([0.5, 0.2])


@pytest.fixture(scope="module")
def flow():
    return FlowPrior.train(two_moons(500, np.random.default_rng(0)), steps=30, batch_size=64, lr=3e-3,
                           progress=False)


def _denoise_model(prior):
    @ppl.model
    def denoise():
        x = ppl.sample("x", prior)
        ppl.sample("y", dist.Normal(x, 0.3).to_event(1))

    return denoise().observe(y=Y)


@pytest.mark.parametrize("coupling", ["spline", "affine"])
def test_flow_prior_log_density_both_backends(coupling, float64):
    flow = FlowPrior.train(two_moons(500, np.random.default_rng(0)), steps=30, batch_size=64, lr=3e-3,
                           coupling=coupling, progress=False)
    programs = {b: ppl.compile(_denoise_model(flow.as_distribution()), b) for b in ("numpyro", "pyro")}
    for point in ([0.3, -0.1], [1.2, 0.4], [-4.0, 5.0]):
        u = {"x": np.array(point)}
        by_hand = (float(flow.to("torch", "float64").log_prob(torch.tensor([point]))[0])
                   + st.norm(u["x"], 0.3).logpdf(Y).sum())
        values = {b: prog.log_density(u) for b, prog in programs.items()}
        assert values["numpyro"] == pytest.approx(values["pyro"], rel=1e-6)
        assert values["numpyro"] == pytest.approx(by_hand, rel=1e-6)
    grads = [prog.grad_log_density(u)["x"] for prog in programs.values()]
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-6)


def test_flow_prior_simulation(flow):
    model = _denoise_model(flow.as_distribution())
    for backend in ("numpyro", "pyro"):
        draws = ppl.compile(model, backend).sample_prior(4, seed=0)
        assert draws["x"].shape == (4, 2) and np.all(np.isfinite(draws["x"]))


@pytest.mark.slow
def test_flow_prior_nuts(flow):
    model = _denoise_model(flow.as_distribution())
    post = ppl.infer(model, method="nuts", backend="numpyro", chains=1, draws=50, warmup=50, seed=0,
                     progress=False)
    assert post.to_arviz().posterior["x"].shape == (1, 50, 2)


def test_conditional_flow_context_is_bound(float64):
    data = two_moons(300, np.random.default_rng(1))
    flow = FlowPrior.train(data, context=data[:, :1], steps=10, batch_size=32, progress=False)
    model = _denoise_model(flow.as_distribution(context=np.array([0.7])))
    u = {"x": np.array([0.1, 0.2])}
    expected = (float(flow.to("torch", "float64").log_prob(torch.tensor([[0.1, 0.2]]), np.array([0.7]))[0])
                + st.norm(u["x"], 0.3).logpdf(Y).sum())
    for backend in ("numpyro", "pyro"):
        assert ppl.compile(model, backend).log_density(u) == pytest.approx(expected, rel=1e-6)


def test_diffusion_prior_as_site(float64):
    prior = DiffusionPrior.train(two_moons(200, np.random.default_rng(0)), steps=5, batch_size=16,
                                 net=MLPConfig(data_dim=2, hidden_dim=8, num_blocks=1), progress=False)
    model = _denoise_model(prior.as_distribution(log_prob_steps=4, sampler="ddim", num_steps=4))
    u = {"x": np.array([0.3, -0.1])}
    values = [ppl.compile(model, b).log_density(u) for b in ("numpyro", "pyro")]
    assert values[0] == pytest.approx(values[1], rel=1e-6)
    assert ppl.compile(model, "numpyro").sample_prior(3)["x"].shape == (3, 2)


def test_vae_latent_site(float64):
    images = load_digits("test").images[:100]
    vae = VAEPrior.train(images, vae=VAEConfig(dim=64, latent_dim=3, hidden_dim=16, num_hidden=1), steps=5,
                         batch_size=16, progress=False)
    y = images[0, 0, 0]

    @ppl.model
    def inpaint():
        img = vae.latent_sample("img")
        ppl.sample("y", dist.Normal(img[0, 0], 0.1).to_event(1))

    model = inpaint().observe(y=y)
    assert set(ppl.compile(model, "numpyro").latent_names) == {"img_z"}
    z = np.array([0.3, -0.2, 1.0])
    decoded = vae.to("torch", "float64").decode(torch.as_tensor(z)).numpy()
    expected = st.norm().logpdf(z).sum() + st.norm(decoded[0, 0], 0.1).logpdf(y).sum()
    for backend in ("numpyro", "pyro"):
        assert ppl.compile(model, backend).log_density({"img_z": z}) == pytest.approx(expected, rel=1e-6)
    draws = ppl.compile(model, "numpyro").sample_prior(2)
    assert draws["img"].shape == (2, 1, 8, 8)
