"""Structure detection: linear-Gaussian observations and diffusion-prior sites in the IR."""
import numpy as np
import pytest

import ppl
from ppl import dist, ops
from ppl import linops as L
from ppl.structure import diffusion_prior_sites, linear_gaussian_observations

RNG = np.random.default_rng(3)
BLUR = L.GaussianBlur((4, 4), 1.0, 3)
A = RNG.normal(size=(3, 4))


class _FakeDenoiserPrior:
    """Stands in for a DiffusionPrior: only the duck-typed ``denoise`` matters here."""

    event_shape = (4, 4)

    def denoise(self, x, t):  # pragma: no cover - never called
        raise AssertionError


def _image_prior():
    from ppl.distributions import ExternalDistribution

    class Wrapped(ExternalDistribution):
        def __init__(self):
            self.prior, self.event_shape, self.batch_shape = _FakeDenoiserPrior(), (4, 4), ()

        @property
        def support(self):
            return ppl.constraints.real_vector

    return Wrapped()


def _one(m):
    found = linear_gaussian_observations(m)
    assert len(found) == 1
    return found[0]


def test_operator_form_with_to_event_and_prior():
    @ppl.model
    def deblur(op, noise):
        x = ppl.sample("x", _image_prior())
        ppl.sample("y", dist.Normal(op(x), noise).to_event(2))

    y = RNG.normal(size=(4, 4))
    m = deblur(BLUR, 0.1).observe(y=y)
    obs = _one(m)
    assert (obs.latent, obs.observed, obs.operator, obs.noise) == ("x", "y", BLUR, 0.1)
    np.testing.assert_array_equal(obs.y, y.ravel())
    assert isinstance(obs.prior, _FakeDenoiserPrior)
    assert diffusion_prior_sites(m) == ["x"]
    assert linear_gaussian_observations(m.graph)[0].operator is BLUR  # a graph works too


def test_dense_matrix_forms_and_data_matrix():
    @ppl.model
    def left(A, noise):
        x = ppl.sample("x", dist.Normal(0.0, 1.0).expand((4,)).to_event(1))
        ppl.sample("y", dist.Normal(A @ x, noise).to_event(1))

    @ppl.model
    def right(noise):
        x = ppl.sample("x", dist.Normal(0.0, 1.0).expand((4,)).to_event(1))
        ppl.sample("y", dist.Normal(x @ A.T, noise).to_event(1))

    for m in (left(A, 0.5), right(0.5)):  # A as a data site, and as a constant
        obs = _one(m.observe(y=np.ones(3)))
        assert isinstance(obs.operator, L.Dense) and obs.noise == 0.5 and obs.prior is None
        np.testing.assert_allclose(obs.operator.dense(), A)
    assert diffusion_prior_sites(left(A, 0.5)) == []


def test_identity_blind_noise_and_deterministic_mean():
    @ppl.model
    def denoise():
        x = ppl.sample("x", dist.Normal(0.0, 1.0).expand((2, 3)).to_event(2))
        sigma = ppl.sample("sigma", dist.HalfNormal(1.0))
        ppl.sample("y", dist.Normal(x, sigma).to_event(2))
        z = ppl.deterministic("z", L.Dense(np.ones((1, 6)), in_shape=(2, 3))(x))
        ppl.sample("w", dist.Normal(z, np.full(1, 0.2)).to_event(1))

    found = {o.observed: o for o in linear_gaussian_observations(
        denoise().observe(y=np.zeros((2, 3)), w=np.ones(1)))}
    assert isinstance(found["y"].operator, L.Identity) and found["y"].operator.in_shape == (2, 3)
    assert found["y"].noise == "sigma"
    assert isinstance(found["w"].operator, L.Dense) and found["w"].noise == pytest.approx(0.2)


def test_nonlinear_and_unsupported_forms_are_not_reported():
    @ppl.model
    def other():
        x = ppl.sample("x", dist.Normal(0.0, 1.0).expand((4, 4)).to_event(2))
        s = ppl.sample("s", dist.HalfNormal(1.0).expand((2,)).to_event(1))
        ppl.sample("a", dist.Normal(ops.tanh(BLUR(x)), 0.1).to_event(2))        # nonlinear
        ppl.sample("b", dist.Normal(BLUR(x) + 1.0, 0.1).to_event(2))           # affine shift
        ppl.sample("c", dist.Normal(BLUR(x), np.linspace(0.1, 1, 4)).to_event(2))  # unequal sigmas
        ppl.sample("d", dist.Normal(x[0], s[0] * 2).to_event(1))               # sigma not a site
        ppl.sample("e", dist.StudentT(3.0, BLUR(x), 0.1).to_event(2))          # not Gaussian
        ppl.sample("f", dist.Normal(BLUR(x), 0.1).expand((2, 4, 4)).to_event(3))  # batch of y

    m = other().observe(a=np.zeros((4, 4)), b=np.zeros((4, 4)), c=np.zeros((4, 4)), d=np.zeros(4),
                        e=np.zeros((4, 4)), f=np.zeros((2, 4, 4)))
    assert linear_gaussian_observations(m) == []


def test_latent_inside_a_plate_is_not_reported():
    @ppl.model
    def batched():
        with ppl.plate("items", 3):
            x = ppl.sample("x", dist.Normal(0.0, 1.0).expand((4,)).to_event(1))
            ppl.sample("y", dist.Normal(x @ A.T, 0.3).to_event(1))

    assert linear_gaussian_observations(batched().observe(y=np.zeros((3, 3)))) == []


def test_misfit_shapes_and_bad_noise_raise_clear_errors():
    @ppl.model
    def deblur(op, noise):
        x = ppl.sample("x", dist.Normal(0.0, 1.0).expand((5, 5)).to_event(2))
        ppl.sample("y", dist.Normal(op(x), noise).to_event(len(op.out_shape)))

    with pytest.raises(ppl.ShapeError, match=r"site 'x'.*GaussianBlur.*\(5, 5\).*\(4, 4\)"):
        deblur(BLUR, 0.1).graph  # noqa: B018 - tracing raises
    m = deblur(L.GaussianBlur((5, 5), 1.0, 3), 0.1)
    with pytest.raises(ppl.ShapeError, match=r"site 'y'.*\(24,\).*\(5, 5\)"):
        m.observe(y=np.zeros(24))
    with pytest.raises(ppl.ParameterError, match=r"site 'y'.*scale"):
        deblur(L.GaussianBlur((5, 5), 1.0, 3), -0.1).observe(y=np.zeros((5, 5)))
