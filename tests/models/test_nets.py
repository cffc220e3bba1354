import numpy as np
import pytest

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

from models.nets import MLPConfig, jax_mlp, param_shapes, torch_mlp  # noqa: E402
from models.nets.convert import check_params, jax_to_numpy, torch_to_numpy  # noqa: E402
from ppl.errors import CheckpointError  # noqa: E402

CONFIG = MLPConfig(data_dim=3, hidden_dim=24, num_blocks=2, time_embed_dim=8)


def _inputs(dtype):
    gen = np.random.default_rng(0)
    x = gen.standard_normal((11, 3)).astype(dtype)
    c_noise = np.concatenate([[-1500.0, 0.0, 1000.0], gen.uniform(-500, 500, 8)]).astype(dtype)
    return x, c_noise


def test_torch_state_dict_follows_the_scheme():
    net = torch_mlp.build(CONFIG, seed=0)
    assert {k: tuple(v.shape) for k, v in net.state_dict().items()} == param_shapes(CONFIG)


def test_build_is_seeded_and_leaves_global_rng_alone():
    before = torch.random.get_rng_state()
    a, b = torch_to_numpy(torch_mlp.build(CONFIG, seed=5)), torch_to_numpy(torch_mlp.build(CONFIG, seed=5))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert torch.equal(before, torch.random.get_rng_state())


def test_torch_to_jax_float32():
    weights = torch_to_numpy(torch_mlp.build(CONFIG, seed=1))
    x, c = _inputs(np.float32)
    out_torch = torch_mlp.from_numpy(CONFIG, weights)(torch.as_tensor(x), torch.as_tensor(c)).detach().numpy()
    out_jax = jax_mlp.apply(jax_mlp.from_numpy(CONFIG, weights), jnp.asarray(x), jnp.asarray(c), CONFIG)
    np.testing.assert_allclose(np.asarray(out_jax), out_torch, atol=1e-5, rtol=0)


def test_jax_to_torch_float64():
    gen = np.random.default_rng(3)
    weights = {k: 0.3 * gen.standard_normal(s) for k, s in param_shapes(CONFIG).items()}
    x, c = _inputs(np.float64)
    with jax.enable_x64(True):
        params = jax_mlp.from_numpy(CONFIG, weights, dtype=jnp.float64)
        out_jax = np.asarray(jax_mlp.apply(params, jnp.asarray(x), jnp.asarray(c), CONFIG))
        exported = jax_to_numpy(params)
    net = torch_mlp.from_numpy(CONFIG, exported, dtype=torch.float64)
    out_torch = net(torch.as_tensor(x), torch.as_tensor(c)).detach().numpy()
    assert out_jax.dtype == np.float64
    np.testing.assert_allclose(out_torch, out_jax, atol=1e-10, rtol=0)


def test_jax_apply_is_jittable_and_differentiable():
    params = jax_mlp.from_numpy(CONFIG, torch_to_numpy(torch_mlp.build(CONFIG)))
    x, c = _inputs(np.float32)
    fn = jax.jit(lambda p, v: jnp.sum(jax_mlp.apply(p, v, jnp.asarray(c), CONFIG) ** 2))
    grads = jax.grad(fn, argnums=1)(params, jnp.asarray(x))
    assert grads.shape == x.shape and np.all(np.isfinite(np.asarray(grads)))


def test_wrong_weights_rejected():
    weights = torch_to_numpy(torch_mlp.build(CONFIG))
    bad = dict(weights, **{"output.bias": np.zeros(4, np.float32)})
    with pytest.raises(CheckpointError, match="output.bias"):
        check_params(bad, CONFIG)
    missing = {k: v for k, v in weights.items() if k != "blocks.1.weight"}
    with pytest.raises(CheckpointError, match="blocks.1.weight"):
        jax_mlp.from_numpy(CONFIG, missing)


def test_config_validation():
    with pytest.raises(ValueError):
        MLPConfig(data_dim=2, time_embed_dim=7)
