"""ppl.markov: tracing into the IR, observe by name, both backends, errors."""
import numpy as np
import pytest

import ppl
from ppl import dist, testing
from ppl.testing import lgssm



@ppl.model
def drift_with_plate(T, u):
    s = ppl.sample("s", dist.LogNormal(0.0, 0.5))

    def step(z_prev, t):
        with ppl.plate("dim", 2):
            z = ppl.sample("z", dist.Normal(z_prev + u[t], s))
            ppl.deterministic("z2", z * z)
            ppl.sample("obs", dist.Poisson(ppl.ops.exp(0.3 * z)))
        return z

    return ppl.markov("time", T, step, init=np.zeros(2))


Y = np.random.default_rng(1).normal(size=12)


def test_graph_has_block_node_and_stacked_inner_sites():
    g = lgssm(12).observe(y=Y).graph
    assert g.nodes["time"]["role"] == "markov"
    assert g.nodes["x"]["block"] == "time" and g.nodes["x"]["batch_shape"] == (12,)
    assert g.nodes["y"]["role"] == "observed"
    assert g.nodes["time_init"]["role"] == "latent"
    assert {("q", "x"), ("r", "y"), ("x", "y"), ("time", "x"), ("time_init", "time")} <= set(g.edges)


@pytest.mark.parametrize("factory", [
    lambda: lgssm(12).observe(y=Y),
    lambda: drift_with_plate(6, np.linspace(-1, 1, 6)).observe(
        obs=np.random.default_rng(0).poisson(1.0, size=(6, 2))),
], ids=["lgssm", "plate_inside_step"])
def test_log_density_and_gradient_agree_across_backends(factory):
    testing.assert_backends_agree(factory(), num_points=2, rtol=1e-6)


@pytest.mark.parametrize("backend", ["numpyro", "pyro"])
def test_prior_predictive_and_likelihood_shapes(backend):
    prog = ppl.compile(lgssm(12).observe(y=Y), backend=backend)
    draws = prog.sample_prior(3, seed=0)
    assert draws["x"].shape == (3, 12) and draws["y"].shape == (3, 12)
    latents = {k: draws[k] for k in prog.latent_names}
    assert prog.log_likelihood(latents)["y"].shape == (3, 12)
    pred = prog.sample_predictive(latents, seed=1)["y"]
    # y | x has scale r: predictive draws sit near the conditioned x, not a fresh path.
    z = (pred - draws["x"]) / draws["r"][:, None]
    assert np.abs(z).max() < 6


def test_pointwise_log_likelihood_agrees_across_backends():
    m = lgssm(12).observe(y=Y)
    draws = ppl.compile(m, "numpyro").sample_prior(2, seed=0)
    latents = {k: draws[k] for k in ("q", "r", "time_init", "x")}
    ll = {b: ppl.compile(m, b).log_likelihood(latents)["y"] for b in ("numpyro", "pyro")}
    np.testing.assert_allclose(ll["pyro"], ll["numpyro"], rtol=1e-8)


def test_observed_shape_must_fit_time_dim():
    with pytest.raises(ppl.ShapeError, match="site 'y'.*shape \\(11,\\)"):
        lgssm(12).observe(y=Y[:11])


def test_step_returning_wrong_shape_is_a_shape_error():
    @ppl.model
    def bad(T):
        def step(x_prev, t):
            return ppl.sample("x", dist.Normal(x_prev, 1.0).expand((3,)))
        ppl.markov("time", T, step, init=0.0)

    with pytest.raises(ppl.ShapeError, match="returns shape \\(3,\\).*carry.*\\(\\)"):
        bad(4).graph


def test_markov_errors_name_the_problem():
    @ppl.model
    def in_plate(T):
        with ppl.plate("p", 2):
            ppl.markov("time", T, lambda c, t: c, init=0.0)

    @ppl.model
    def no_return(T):
        ppl.markov("time", T, lambda c, t: None, init=0.0)

    @ppl.model
    def clash(T):
        ppl.sample("x", dist.Normal(0.0, 1.0))
        ppl.markov("time", T, lambda c, t: ppl.sample("x", dist.Normal(c, 1.0)), init=0.0)

    with pytest.raises(ppl.ModelError, match="inside a plate"):
        in_plate(3).graph
    with pytest.raises(ppl.ModelError, match="must return the next carry"):
        no_return(3).graph
    with pytest.raises(ppl.DuplicateSiteError, match="site 'x'"):
        clash(3).graph
