"""Every zoo model gives the same log density and gradient on Pyro and NumPyro."""
import numpy as np
import pytest

from ppl import testing

ZOO = testing.zoo()


@pytest.mark.parametrize("name", sorted(ZOO))
def test_log_density_and_gradient_agree(name):
    testing.assert_backends_agree(ZOO[name], num_points=3, rtol=1e-6)


@pytest.mark.parametrize("name", ["eight_schools", "positive_families"])
def test_transforms_round_trip(name):
    import ppl

    m = ZOO[name]
    point = testing.random_unconstrained_point(m, seed=3)
    for backend in ("numpyro", "pyro"):
        prog = ppl.compile(m, backend=backend)
        back = prog.to_unconstrained(prog.to_constrained(point))
        for k in point:
            np.testing.assert_allclose(back[k], point[k], rtol=1e-6, atol=1e-9)


def test_log_density_matches_hand_computation():
    """The joint of eight schools written out with scipy equals both backends'."""
    import scipy.stats as st

    m = ZOO["eight_schools"]
    point = {"mu": np.array(1.3), "tau": np.array(0.4), "eta": np.linspace(-1, 1, 8)}
    tau = np.exp(0.4)
    theta = 1.3 + tau * point["eta"]
    sigma = np.array([15.0, 10, 16, 11, 9, 11, 10, 18])
    y = np.array([28.0, 8, -3, 7, -1, 1, 18, 12])
    expected = (st.norm(0, 5).logpdf(1.3) + st.halfcauchy(scale=5).logpdf(tau) + 0.4
                + st.norm().logpdf(point["eta"]).sum() + st.norm(theta, sigma).logpdf(y).sum())
    for backend, value in testing.backend_log_densities(m, point).items():
        assert value == pytest.approx(expected, rel=1e-10), backend
