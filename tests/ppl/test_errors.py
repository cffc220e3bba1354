"""Every error of the compiler is a PPLError that names the site, raised before sampling."""
import numpy as np
import pytest

import ppl
from ppl import dist


@ppl.model
def counts_model(n):
    rate = ppl.sample("rate", dist.Gamma(2.0, 1.0))
    with ppl.plate("obs", n):
        ppl.sample("y", dist.Poisson(rate))


@ppl.model
def coin(n):
    p = ppl.sample("p", dist.Beta(1.0, 1.0))
    with ppl.plate("flips", n):
        ppl.sample("flip", dist.Bernoulli(probs=p))


def test_duplicate_site_names():
    @ppl.model
    def twice():
        ppl.sample("x", dist.Normal(0.0, 1.0))
        ppl.sample("x", dist.Normal(0.0, 1.0))

    with pytest.raises(ppl.DuplicateSiteError, match="site 'x'.*used twice"):
        twice().graph


def test_observing_unknown_name_suggests_close_one():
    with pytest.raises(ppl.ObservationError, match=r"site 'yy'.*no sample site.*did you mean 'y'"):
        counts_model(3).observe(yy=np.ones(3))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_data(bad):
    with pytest.raises(ppl.ObservationError, match=r"site 'y'.*NaN or inf.*index \(1,\)"):
        counts_model(3).observe(y=np.array([1.0, bad, 2.0]))


def test_negative_counts_outside_support():
    with pytest.raises(ppl.ObservationError, match=r"site 'y'.*outside the support nonnegative_integer"):
        counts_model(3).observe(y=np.array([1, -2, 0]))


def test_non_integer_counts_outside_support():
    with pytest.raises(ppl.ObservationError, match="site 'y'.*outside the support"):
        counts_model(3).observe(y=np.array([1.5, 2.0, 0.0]))


def test_bernoulli_values_outside_support():
    with pytest.raises(ppl.ObservationError, match="site 'flip'.*outside the support boolean"):
        coin(2).observe(flip=np.array([1.0, 2.0]))


def test_probability_above_one_is_invalid_parameter():
    @ppl.model
    def m():
        ppl.sample("b", dist.Bernoulli(probs=1.5))

    with pytest.raises(ppl.ParameterError, match="site 'b'.*probs.*unit_interval"):
        m().graph


def test_shape_does_not_fit_plate():
    with pytest.raises(ppl.ShapeError, match=r"site 'y'.*shape \(5,\).*\(3,\).*plates: 'obs' of size 3"):
        counts_model(3).observe(y=np.ones(5))


def test_parameter_batch_does_not_fit_plate():
    @ppl.model
    def m():
        with ppl.plate("group", 4):
            ppl.sample("z", dist.Normal(np.zeros(3), 1.0))

    with pytest.raises(ppl.ShapeError, match=r"site 'z'.*\(3,\) does not fit plate 'group' of size 4"):
        m().graph


@pytest.mark.parametrize("scale", [-1.0, 0.0])
def test_negative_scale_is_invalid(scale):
    @ppl.model
    def m():
        ppl.sample("x", dist.Normal(0.0, scale))

    with pytest.raises(ppl.ParameterError, match="site 'x'.*scale.*positive"):
        m().graph


def test_invalid_constant_covariance():
    @ppl.model
    def m():
        ppl.sample("x", dist.MultivariateNormal(np.zeros(2), covariance_matrix=-np.eye(2)))

    with pytest.raises(ppl.ParameterError, match="site 'x'.*covariance_matrix.*positive_definite"):
        m().graph


def test_op_a_backend_cannot_lower():
    jax_only = ppl.numeric(numpyro=lambda x: x * 2.0, shape=(3,))

    @ppl.model
    def m():
        x = ppl.sample("x", dist.Normal(0.0, 1.0).expand((3,)).to_event(1))
        ppl.sample("y", dist.Normal(jax_only(x), 1.0).to_event(1), obs=np.zeros(3))

    ppl.compile(m(), backend="numpyro").log_density({"x": np.zeros(3)})
    with pytest.raises(ppl.LoweringError,
                       match="site 'y'.*numeric function '<lambda>'.*no implementation for backend 'pyro'"):
        ppl.compile(m(), backend="pyro")


def test_method_that_cannot_handle_discrete_latents_says_which_can():
    @ppl.model
    def m():
        z = ppl.sample("z", dist.Bernoulli(probs=0.3))
        ppl.sample("y", dist.Normal(z, 1.0), obs=0.5)

    with pytest.raises(ppl.MethodError, match="site 'z'.*'nuts' cannot handle.*discrete"):
        ppl.infer(m(), method="nuts", progress=False)


def test_unknown_method_and_option():
    m = counts_model(2).observe(y=np.array([1, 2]))
    with pytest.raises(ppl.MethodError, match="unknown method 'nutz'.*nuts"):
        ppl.infer(m, method="nutz")
    with pytest.raises(ppl.MethodError, match="no option.*num_samples.*draws"):
        ppl.infer(m, method="nuts", num_samples=10)


def test_unknown_backend_and_device():
    m = counts_model(2)
    with pytest.raises(ppl.LoweringError, match="unknown backend 'stan'"):
        ppl.compile(m, backend="stan")
    with pytest.raises(ppl.LoweringError, match="unknown device 'tpu'"):
        ppl.compile(m, device="tpu")


def test_python_control_flow_on_random_value():
    @ppl.model
    def m():
        x = ppl.sample("x", dist.Normal(0.0, 1.0))
        if x > 0:
            ppl.sample("y", dist.Normal(0.0, 1.0))

    with pytest.raises(ppl.ModelError, match="no truth value.*ops.where"):
        m().graph


def test_primitive_outside_model():
    with pytest.raises(ppl.ModelError, match="outside a model"):
        ppl.sample("x", dist.Normal(0.0, 1.0))


def test_errors_share_one_base_class():
    for cls in (ppl.ModelError, ppl.ObservationError, ppl.ShapeError, ppl.ParameterError,
                ppl.LoweringError, ppl.MethodError, ppl.DuplicateSiteError, ppl.CheckpointError):
        assert issubclass(cls, ppl.PPLError)


def test_errors_come_before_any_backend_import():
    import subprocess
    import sys

    code = (
        "import sys, numpy as np, ppl\n"
        "from ppl import dist\n"
        "@ppl.model\n"
        "def m():\n"
        "    ppl.sample('y', dist.Poisson(1.0).expand((2,)))\n"
        "try:\n"
        "    m().observe(y=np.array([1, -1]))\n"
        "except ppl.ObservationError:\n"
        "    pass\n"
        "print('torch' in sys.modules, 'jax' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"
