"""Array backends a trained denoiser network can run on.

Each backend wraps the shared denoiser weights (numpy dict, the checkpoint format)
and offers the handful of operations ``DiffusionPrior`` needs: an array
namespace ``xp`` for the shared math, array conversion, the network, and
seeded Gaussian noise. Backends are registered by name in ``BACKENDS``.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

from models.nets.registry import NetConfig, check_net_params, net_kind

_DTYPES = ("float32", "float64")


def _check_dtype(dtype: str) -> None:
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {_DTYPES}, got {dtype!r}")


def torch_jacobian_trace(fn: Callable, x: Any) -> tuple[Any, Any]:
    """fn(x) and the trace of its per-row Jacobian, for fn: (n, d) -> (n, d)."""
    import torch

    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        out = fn(x)
        # One backward pass per coordinate: exact, and cheap for small d.
        trace = sum(torch.autograd.grad(out[:, i].sum(), x, retain_graph=True)[0][:, i]
                    for i in range(x.shape[1]))
    return out.detach(), trace.detach()


def jax_jacobian_trace(fn: Callable, x: Any) -> tuple[Any, Any]:
    """fn(x) and the trace of its per-row Jacobian, for fn: (n, d) -> (n, d)."""
    import jax
    import jax.numpy as jnp

    jac = jax.vmap(jax.jacfwd(lambda row: fn(row[None])[0]))(x)
    return fn(x), jnp.trace(jac, axis1=1, axis2=2)


def torch_hutchinson_trace(fn: Callable, x: Any, probes: Any) -> tuple[Any, Any]:
    """fn(x) and Hutchinson's estimate mean_k v_k^T J v_k of its per-row Jacobian trace.

    Args:
        fn: (n, d) -> (n, d), rows independent.
        x: (n, d).
        probes: (num_probes, n, d), zero-mean with identity covariance (Rademacher).
    """
    import torch

    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        out = fn(x)
        # One vector-Jacobian product per probe: v^T J v = (v^T J) . v.
        estimates = [(torch.autograd.grad(out, x, grad_outputs=v, retain_graph=True)[0] * v).sum(dim=1)
                     for v in probes]
    return out.detach(), torch.stack(estimates).mean(dim=0).detach()


def jax_hutchinson_trace(fn: Callable, x: Any, probes: Any) -> tuple[Any, Any]:
    """fn(x) and Hutchinson's estimate of its per-row Jacobian trace (see the torch twin)."""
    import jax
    import jax.numpy as jnp

    jvps = jax.vmap(lambda v: jax.jvp(fn, (x,), (v,))[1])(probes)  # (num_probes, n, d): J v
    return fn(x), jnp.mean(jnp.sum(probes * jvps, axis=2), axis=0)


class TorchArrays:
    """torch arrays of one dtype: the array half of a backend (no network)."""

    name = "torch"
    jacobian_trace = staticmethod(torch_jacobian_trace)
    hutchinson_trace = staticmethod(torch_hutchinson_trace)

    def __init__(self, dtype: str = "float32"):
        import torch
        from array_api_compat import torch as torch_xp

        _check_dtype(dtype)
        self.dtype = getattr(torch, dtype)
        self.xp = torch_xp

    def asarray(self, value: Any) -> Any:
        import torch

        return torch.as_tensor(value, dtype=self.dtype)

    def to_params(self, weights: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """Frozen weight tensors (gradients flow to inputs, never to weights)."""
        return {k: self.asarray(np.asarray(v)) for k, v in weights.items()}

    def normal(self, seed: int, shape: tuple[int, ...]) -> Any:
        import torch

        generator = torch.Generator().manual_seed(int(seed))
        return torch.randn(shape, generator=generator, dtype=self.dtype)

    def uniform(self, seed: int, shape: tuple[int, ...]) -> Any:
        """Uniform draws on [0, 1)."""
        import torch

        generator = torch.Generator().manual_seed(int(seed))
        return torch.rand(shape, generator=generator, dtype=self.dtype)

    def to_numpy(self, value: Any) -> np.ndarray:
        return value.detach().cpu().numpy()


class TorchBackend(TorchArrays):
    """Runs the denoiser with torch (for Pyro); parameters are frozen."""

    def __init__(self, net_config: NetConfig, weights: Mapping[str, np.ndarray], dtype: str = "float32"):
        super().__init__(dtype)
        check_net_params(weights, net_config)
        self.net = net_kind(net_config).torch_module(net_config, weights, self.dtype).eval()
        # Gradients flow to inputs (posterior samplers need them), never to weights.
        self.net.requires_grad_(False)

    def apply(self, x: Any, c_noise: Any) -> Any:
        return self.net(x, c_noise)


class JaxArrays:
    """JAX arrays of one dtype: the array half of a backend (no network)."""

    name = "jax"
    jacobian_trace = staticmethod(jax_jacobian_trace)
    hutchinson_trace = staticmethod(jax_hutchinson_trace)

    def __init__(self, dtype: str = "float32"):
        import jax
        import jax.numpy as jnp

        _check_dtype(dtype)
        if dtype == "float64" and not jax.config.jax_enable_x64:
            raise ValueError("dtype='float64' with JAX needs jax.config.update('jax_enable_x64', True)")
        self.dtype = getattr(jnp, dtype)
        self.xp = jnp

    def asarray(self, value: Any) -> Any:
        import jax.numpy as jnp

        return jnp.asarray(value, dtype=self.dtype)

    def to_params(self, weights: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """Concrete weight arrays, even when called while JAX traces a model.

        A prior may first be built inside NumPyro's jitted potential; without
        ``ensure_compile_time_eval`` its cached weights would be leaked tracers.
        """
        import jax

        with jax.ensure_compile_time_eval():
            return {k: self.asarray(np.asarray(v)) for k, v in weights.items()}

    def normal(self, seed: int, shape: tuple[int, ...]) -> Any:
        import jax

        return jax.random.normal(jax.random.key(int(seed)), shape, dtype=self.dtype)

    def uniform(self, seed: int, shape: tuple[int, ...]) -> Any:
        """Uniform draws on [0, 1)."""
        import jax

        return jax.random.uniform(jax.random.key(int(seed)), shape, dtype=self.dtype)

    def to_numpy(self, value: Any) -> np.ndarray:
        return np.asarray(value)


class JaxBackend(JaxArrays):
    """Runs the denoiser as a jitted pure function (for NumPyro)."""

    def __init__(self, net_config: NetConfig, weights: Mapping[str, np.ndarray], dtype: str = "float32"):
        import jax

        super().__init__(dtype)
        check_net_params(weights, net_config)
        self.params = self.to_params(weights)
        jax_apply = net_kind(net_config).jax_apply
        self._apply = jax.jit(lambda params, x, c: jax_apply(params, x, c, net_config))

    def apply(self, x: Any, c_noise: Any) -> Any:
        return self._apply(self.params, x, c_noise)


BACKENDS = {"torch": TorchBackend, "jax": JaxBackend}
ARRAYS = {"torch": TorchArrays, "jax": JaxArrays}


def make_arrays(name: str, dtype: str = "float32"):
    """The array half of a registered backend (for priors that bring their own math)."""
    if name not in ARRAYS:
        raise ValueError(f"unknown backend {name!r}; choose from {sorted(ARRAYS)}")
    return ARRAYS[name](dtype)


def make_backend(name: str, net_config: NetConfig, weights: Mapping[str, np.ndarray], dtype: str = "float32"):
    """Instantiate a registered backend by name."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose from {sorted(BACKENDS)}")
    return BACKENDS[name](net_config, weights, dtype)
