"""Running a trained estimator on a backend: draws and densities in standardised space.

``ESTIMATORS`` maps a method name (``"npe"``, ``"npse"``) to its spec and task
classes and two functions over an array backend (``models.backends``
``TorchArrays`` / ``JaxArrays``): ``sample(runtime, x (1, dim_x), n, seed)`` ->
numpy (n, d) and ``log_prob(runtime, theta (n, d), x (1, dim_x))`` -> numpy
(n,), both in standardised coordinates. On JAX the network calls are jitted
once per posterior; on torch they run without autograd.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from models.samplers import NEEDS_NOISE, SAMPLERS, initial_std
from ppl.errors import MethodError

from . import embedding, npe, npse


class Runtime:
    """A spec, its weights on one array backend, and the functions compiled for them."""

    def __init__(self, spec: Any, weights: dict[str, np.ndarray], arrays: Any, config: Any):
        self.spec, self.arrays, self.config = spec, arrays, config
        self.params = arrays.to_params(weights)
        self._compiled: dict[str, Callable] = {}

    def fn(self, name: str, math: Callable) -> Callable:
        """``math(params, spec, *args, xp)`` bound to this runtime (jitted on JAX)."""
        if name not in self._compiled:
            spec, xp = self.spec, self.arrays.xp
            bound = lambda params, *args: math(params, spec, *args, xp)
            self._compiled[name] = _jit(bound) if self.arrays.name == "jax" else _no_grad(bound)
        return self._compiled[name]

    def x(self, x: np.ndarray, n: int) -> Any:
        """Standardised x (1, dim_x) as a backend array broadcast to n rows."""
        return self.arrays.xp.broadcast_to(self.arrays.asarray(x), (n, x.shape[1]))


def _jit(fn: Callable) -> Callable:
    import jax

    return jax.jit(fn)


def _no_grad(fn: Callable) -> Callable:
    def run(*args):
        import torch

        with torch.no_grad():
            return fn(*args)

    return run


def _npe_sample(rt: Runtime, x: np.ndarray, n: int, seed: int) -> np.ndarray:
    noise = rt.arrays.normal(seed, (n, rt.spec.flow.dim))
    return rt.arrays.to_numpy(rt.fn("sample", npe.sample)(rt.params, noise, rt.x(x, n)))


def _npe_log_prob(rt: Runtime, theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    if rt.spec.pad:
        raise MethodError("log_prob is not available for a one-dimensional parameter (its flow carries a "
                          "padding coordinate); draw samples instead")
    values = rt.fn("log_prob", npe.log_prob)(rt.params, rt.arrays.asarray(theta), rt.x(x, len(theta)))
    return rt.arrays.to_numpy(values)


def _npse_sample(rt: Runtime, x: np.ndarray, n: int, seed: int) -> np.ndarray:
    spec, form = rt.spec, rt.spec.form
    sampler = rt.config.sampler or npse.DEFAULT_SAMPLER[spec.formulation]
    times = form.sampling_times(rt.config.num_steps or npse.DEFAULT_STEPS[sampler])
    noise = rt.arrays.normal(seed, (len(times), n, spec.net.data_dim))
    context = rt.fn("embed", _embed)(rt.params, rt.x(x, n))
    step = rt.fn("denoise", npse.denoise)
    denoise = lambda theta_t, t: step(rt.params, theta_t, rt.arrays.asarray(t), context)
    x_init = initial_std(form, times[0]) * noise[0]
    extra = noise[1:] if sampler in NEEDS_NOISE else None
    return rt.arrays.to_numpy(SAMPLERS[sampler](denoise, times, x_init, extra, form, rt.arrays.xp))


def _embed(params: Any, spec: Any, x: Any, xp: Any) -> Any:
    return embedding.apply(params, spec.embedding, x, spec.x_shape, xp)


def _npse_log_prob(rt: Runtime, theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    raise MethodError("log_prob needs a flow: amortize with to='flow' (NPE); a diffusion posterior gives draws")


@dataclass(frozen=True)
class Estimator:
    """One amortized method: how to build, train and run it."""

    spec_cls: type
    task_cls: type
    sample: Callable[[Runtime, np.ndarray, int, int], np.ndarray]
    log_prob: Callable[[Runtime, np.ndarray, np.ndarray], np.ndarray]


ESTIMATORS = {"npe": Estimator(npe.NPESpec, npe.NPETask, _npe_sample, _npe_log_prob),
              "npse": Estimator(npse.NPSESpec, npse.NPSETask, _npse_sample, _npse_log_prob)}
