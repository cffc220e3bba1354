"""Linear operators: adjoints, SVDs and shapes on numpy, JAX and torch, and use inside models."""
import numpy as np
import pytest

import ppl
from ppl import dist
from ppl import linops as L
from ppl.testing import assert_backends_agree

RNG = np.random.default_rng(0)


def _operators():
    return {
        "identity": L.Identity((3, 4)),
        "dense": L.Dense(RNG.normal(size=(5, 12)), in_shape=(3, 4)),
        "random_mask": L.random_mask((5, 6), 0.4, seed=1),
        "box_mask": L.box_mask((2, 6, 6), (1, 4, 2, 5)),
        "blur": L.GaussianBlur((6, 7), sigma=1.0, size=3),
        "blur_channels": L.GaussianBlur((2, 5, 5), sigma=0.8, size=5),
        "downsample": L.Downsample((6, 8), factor=2),
        "composed": L.Downsample((8, 8), 2) @ L.GaussianBlur((8, 8), 1.2, 5),
        "adjoint": L.Dense(RNG.normal(size=(4, 6))).T,
    }


OPERATORS = _operators()


def _namespaces():
    import jax.numpy as jnp
    import torch
    from array_api_compat import torch as torch_xp

    return {"numpy": (np.asarray, np), "jax": (jnp.asarray, jnp),
            "torch": (torch.as_tensor, torch_xp)}


@pytest.mark.parametrize("name", OPERATORS)
@pytest.mark.parametrize("lib", ["numpy", "jax", "torch"])
def test_adjoint_identity(name, lib):
    """<A x, y> = <x, A^T y> on random batched arrays, and A x equals the dense matrix times x."""
    op, (convert, xp) = OPERATORS[name], _namespaces()[lib]
    x = RNG.normal(size=(3, *op.in_shape))
    y = RNG.normal(size=(3, *op.out_shape))
    ax = np.asarray(op.apply(convert(x)))
    aty = np.asarray(op.adjoint_apply(convert(y), xp))
    assert ax.shape == (3, *op.out_shape) and aty.shape == (3, *op.in_shape)
    np.testing.assert_allclose(np.sum(ax * y, axis=tuple(range(1, ax.ndim))),
                               np.sum(x * aty, axis=tuple(range(1, x.ndim))), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ax.reshape(3, -1), x.reshape(3, -1) @ op.dense().T, atol=1e-12)
    flat = np.asarray(op.rmatvec(convert(y.reshape(3, -1))))
    np.testing.assert_allclose(flat, aty.reshape(3, -1), atol=1e-12)


@pytest.mark.parametrize("name", OPERATORS)
def test_svd_reconstructs_dense(name):
    op = OPERATORS[name]
    svd, matrix = op.svd(), op.dense()
    assert matrix.shape == (op.out_dim, op.in_dim)
    np.testing.assert_allclose(svd.U @ np.diag(svd.s) @ svd.V.T, matrix, atol=1e-12)
    np.testing.assert_allclose(svd.U.T @ svd.U, np.eye(svd.rank), atol=1e-12)
    np.testing.assert_allclose(svd.V.T @ svd.V, np.eye(svd.rank), atol=1e-12)
    assert np.all(np.diff(svd.s) <= 0) and np.all(svd.s > 0)
    assert op.svd() is svd  # cached


@pytest.mark.parametrize("name", ["identity", "random_mask", "box_mask", "blur", "blur_channels",
                                  "downsample", "adjoint"])
def test_structured_svd_equals_dense_svd(name):
    """Structured SVDs (masks, Kronecker factors) have the dense matrix's singular values."""
    op = OPERATORS[name]
    dense = L.svd_of_matrix(op.dense())
    assert op.svd().rank == dense.rank
    np.testing.assert_allclose(op.svd().s, dense.s, rtol=1e-10)


def test_blur_and_downsample_values():
    """Hand-checked entries: a centred impulse spreads as the normalised kernel; pooling averages."""
    blur = L.GaussianBlur((7, 7), sigma=1.0, size=3)
    impulse = np.zeros((7, 7))
    impulse[3, 3] = 1.0
    taps = np.exp(-0.5 * np.array([1.0, 0.0, 1.0]))
    taps /= taps.sum()
    np.testing.assert_allclose(blur(impulse)[2:5, 2:5], np.outer(taps, taps), rtol=1e-12)
    assert blur(impulse).sum() == pytest.approx(1.0)
    image = np.arange(16.0).reshape(4, 4)
    np.testing.assert_allclose(L.Downsample((4, 4), 2)(image), [[2.5, 4.5], [10.5, 12.5]])


def test_masks_select_observed_entries():
    mask = L.box_mask((4, 4), (1, 3, 0, 2))
    image = np.arange(16.0).reshape(4, 4)
    keep = np.ones((4, 4), bool)
    keep[1:3, 0:2] = False
    np.testing.assert_array_equal(mask(image), image[keep])
    assert L.random_mask((10, 10), 0.3, seed=0).out_dim == 30


def test_torch_gradients_flow_through_operator():
    import torch

    op = OPERATORS["composed"]
    x = torch.as_tensor(RNG.normal(size=op.in_shape), dtype=torch.float64).requires_grad_(True)
    (op.apply(x) ** 2).sum().backward()
    expected = 2 * op.dense().T @ op.dense() @ x.detach().numpy().ravel()
    np.testing.assert_allclose(x.grad.numpy().ravel(), expected, atol=1e-12)


@ppl.model
def _blurred(op, noise):
    x = ppl.sample("x", dist.Normal(0.0, 1.0).expand(op.in_shape).to_event(len(op.in_shape)))
    ppl.sample("y", dist.Normal(op(x), noise).to_event(len(op.out_shape)))


@pytest.mark.parametrize("name", ["composed", "box_mask", "dense"])
def test_operator_in_model_agrees_across_backends(name):
    op = OPERATORS[name]
    m = _blurred(op, 0.3).observe(y=RNG.normal(size=op.out_shape))
    assert_backends_agree(m, num_points=2)
    point = {"x": RNG.normal(size=op.in_shape)}
    resid = m.graph.nodes["y"]["value"].ravel() - op.dense() @ point["x"].ravel()
    expected = (-0.5 * np.sum(point["x"] ** 2) - 0.5 * op.in_dim * np.log(2 * np.pi)
                - 0.5 * np.sum((resid / 0.3) ** 2) - op.out_dim * (np.log(0.3) + 0.5 * np.log(2 * np.pi)))
    assert ppl.compile(m, backend="pyro").log_density(point) == pytest.approx(expected, rel=1e-10)


def test_errors_name_operator_and_shapes():
    blur = L.GaussianBlur((5, 5), 1.0, 3)
    with pytest.raises(ppl.ShapeError, match=r"site 'x'.*GaussianBlur.*\(4, 4\).*\(5, 5\)"):
        _mismatched_model(blur).graph  # noqa: B018 - tracing raises
    with pytest.raises(ppl.ShapeError, match=r"GaussianBlur.*\(3, 4, 4\)"):
        blur.apply(np.zeros((3, 4, 4)))
    with pytest.raises(ppl.ShapeError, match="cannot compose"):
        L.Downsample((4, 4), 2) @ blur
    with pytest.raises(ppl.ShapeError, match=r"site 'y'.*shape \(3,\)"):
        _blurred(L.Downsample((4, 4), 2), 0.3).observe(y=np.zeros(3))
    with pytest.raises(ppl.ParameterError, match=r"site 'y'.*scale.*positive"):
        _blurred(L.Downsample((4, 4), 2), -0.3).observe(y=np.zeros((2, 2)))


BAD_CONSTRUCTIONS = [
    (lambda: L.GaussianBlur((4, 4), 0.0), ppl.ParameterError, "sigma must be positive"),
    (lambda: L.GaussianBlur((4, 4), 1.0, 4), ppl.ParameterError, "odd"),
    (lambda: L.Downsample((5, 4), 2), ppl.ParameterError, "divide"),
    (lambda: L.Mask(np.zeros(3, bool)), ppl.ParameterError, "at least one observed"),
    (lambda: L.random_mask((3, 3), 0.0), ppl.ParameterError, "fraction"),
    (lambda: L.box_mask((4, 4), (0, 5, 0, 1)), ppl.ParameterError, "inside"),
    (lambda: L.Dense(np.ones((2, 3)), in_shape=(2, 2)), ppl.ShapeError, "does not map"),
]


@pytest.mark.parametrize("make, error, match", BAD_CONSTRUCTIONS)
def test_bad_construction_is_refused(make, error, match):
    with pytest.raises(error, match=match):
        make()


@ppl.model
def _mismatched_model(op):
    x = ppl.sample("x", dist.Normal(0.0, 1.0).expand((4, 4)).to_event(2))
    ppl.sample("y", dist.Normal(op(x), 0.1).to_event(2))



def test_jax_constants_survive_separate_jit_traces():
    """Cached backend constants are concrete, so a second jitted function may reuse them."""
    import jax
    import jax.numpy as jnp

    op = L.Downsample((4, 4), 2) @ L.GaussianBlur((4, 4), 1.0, 3)
    x = RNG.normal(size=(4, 4))
    first = jax.jit(lambda v: op.apply(v).sum())(jnp.asarray(x))
    second = jax.jit(lambda v: (op.apply(v) ** 2).sum())(jnp.asarray(x))
    ax = op.dense() @ x.ravel()
    np.testing.assert_allclose([first, second], [ax.sum(), (ax**2).sum()], rtol=1e-12)
