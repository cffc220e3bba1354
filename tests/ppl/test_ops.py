"""Each op gives the same values on numpy (shapes), JAX and torch."""
import numpy as np
import pytest

import ppl
from ppl import dist, ops

RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 4))
P = RNG.uniform(0.1, 0.9, size=(3, 4))
IDX = np.array([2, 0, 1])

CASES = {
    "exp": lambda x, p: ops.exp(x), "log": lambda x, p: ops.log(p),
    "log1p": lambda x, p: ops.log1p(p), "expm1": lambda x, p: ops.expm1(x),
    "sqrt": lambda x, p: ops.sqrt(p), "abs": lambda x, p: ops.abs(x),
    "sigmoid": lambda x, p: ops.sigmoid(x), "logit": lambda x, p: ops.logit(p),
    "softplus": lambda x, p: ops.softplus(x), "tanh": lambda x, p: ops.tanh(x),
    "sum": lambda x, p: ops.sum(x, axis=1), "mean": lambda x, p: ops.mean(x, axis=0),
    "sum_all": lambda x, p: ops.sum(x),
    "logsumexp": lambda x, p: ops.logsumexp(x, axis=-1, keepdims=True),
    "matmul": lambda x, p: ops.matmul(x, p.T), "where": lambda x, p: ops.where(x > 0, x, p),
    "stack": lambda x, p: ops.stack([x, p], axis=1),
    "concatenate": lambda x, p: ops.concatenate([x, p], axis=0),
    "clip": lambda x, p: ops.clip(x, -0.5, 0.5),
    "gather": lambda x, p: ops.gather(x, IDX, axis=1),
    "getitem": lambda x, p: x[IDX, 1:3], "arith": lambda x, p: (x * 2 - p) / (1 + p) ** 2,
    "neg_pow": lambda x, p: -(p ** x), "compare": lambda x, p: ops.where(x <= p, 1.0, 0.0),
}


def _model(case):
    @ppl.model
    def m():
        x = ppl.sample("x", dist.Normal(0.0, 1.0).expand((3, 4)).to_event(2))
        p = ppl.sample("p", dist.Uniform(0.0, 1.0).expand((3, 4)).to_event(2))
        ppl.deterministic("out", CASES[case](x, p))
    return m()


@pytest.mark.parametrize("case", sorted(CASES))
def test_op_agrees_on_all_backends(case):
    folded = CASES[case](X, P)  # on constants, ops fold to numpy values
    expected = np.asarray(getattr(folded, "value", folded), dtype=float)
    m = _model(case)
    assert m.graph.nodes["out"]["batch_shape"] == expected.shape
    for backend in ("numpyro", "pyro"):
        prog = ppl.compile(m, backend=backend)
        draws = prog.sample_predictive({"x": X[None], "p": P[None]})
        np.testing.assert_allclose(draws["out"][0], expected, rtol=1e-6, err_msg=backend)


def test_array_api_numeric_function_runs_on_every_backend():
    @ppl.numeric
    def simulator(xp, theta):
        return xp.cumsum(xp.sin(theta) * 2.0, axis=-1)

    @ppl.model
    def m():
        theta = ppl.sample("theta", dist.Normal(0.0, 1.0).expand((4,)).to_event(1))
        ppl.deterministic("path", simulator(theta))

    assert m().graph.nodes["path"]["batch_shape"] == (4,)
    theta = RNG.normal(size=(1, 4))
    for backend in ("numpyro", "pyro"):
        out = ppl.compile(m(), backend=backend).sample_predictive({"theta": theta})
        np.testing.assert_allclose(out["path"][0], np.cumsum(np.sin(theta[0]) * 2.0), rtol=1e-6)


def test_per_backend_numeric_function():
    import jax.numpy as jnp
    import torch

    square = ppl.numeric(numpy=np.square, numpyro=jnp.square, pyro=torch.square)

    @ppl.model
    def m():
        theta = ppl.sample("theta", dist.Normal(0.0, 1.0))
        ppl.deterministic("sq", square(theta))

    for backend in ("numpyro", "pyro"):
        out = ppl.compile(m(), backend=backend).sample_predictive({"theta": np.array([3.0])})
        assert out["sq"][0] == pytest.approx(9.0)
