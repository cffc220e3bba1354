"""The particle-filter entry point and its result.

Each backend's filter lives in its own module and is imported (with its
array library, JAX or torch) only when a filter runs on that backend:
``FILTER_BACKENDS`` maps a backend name to the function running it.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ppl.errors import MethodError

from .config import FilterConfig


@dataclass(frozen=True)
class FilterResult:
    """What a particle filter run gives.

    Attributes:
        log_likelihood: estimate of log p(y | params).
        filtering_mean: (T, *carry_shape) E[carry_t | y_{0:t}].
        filtering_var: (T, *carry_shape) elementwise variances.
        ess: (T,) ESS of the weights carried into each step (before resampling).
        log_likelihood_increments: (T,) log p(y_t | y_{0:t-1}) estimates.
        resampled: (T,) whether the cloud was resampled before each step.
        smoothed: (draws, T, *carry_shape) backward-simulation trajectories, or None.
        config: the filter's settings.
    """

    log_likelihood: float
    filtering_mean: np.ndarray
    filtering_var: np.ndarray
    ess: np.ndarray
    log_likelihood_increments: np.ndarray
    resampled: np.ndarray
    smoothed: np.ndarray | None
    config: FilterConfig


def _filter_numpyro(model: Any, params: dict[str, Any], cfg: FilterConfig) -> FilterResult:
    """Bootstrap, guided or optimal filter in JAX (one compiled scan), optional smoothing."""
    import jax

    import ppl

    from . import kernels as _pf
    from .smoothing import backward_simulation
    from .ssm import check_params, state_space, static_env

    ssm = state_space(ppl.compile(model, backend="numpyro"))
    values = check_params(ssm, params)
    env, _ = static_env(ssm, values)
    keep = cfg.smoothing_draws > 0
    key_filter, key_smooth = jax.random.split(jax.random.PRNGKey(cfg.seed))
    final, info = jax.jit(lambda k: _pf.run(ssm, env, values, k, cfg, keep))(key_filter)
    smoothed = None
    if keep:
        smoothed = np.asarray(jax.jit(lambda k: backward_simulation(
            ssm, env, k, info.particles, info.log_weights, cfg.smoothing_draws))(key_smooth))
    return FilterResult(float(final.log_likelihood), np.asarray(info.mean), np.asarray(info.var),
                        np.asarray(info.ess), np.asarray(info.log_increment),
                        np.asarray(info.resampled), smoothed, cfg)


def _filter_pyro(model: Any, params: dict[str, Any], cfg: FilterConfig) -> FilterResult:
    """Bootstrap, guided or optimal filter in torch (a loop over time, vmapped over particles)."""
    import ppl

    from . import kernels_torch
    from .ssm import check_params, state_space, static_env

    kernels_torch.check_config(cfg)  # before compiling: unsupported settings fail fast
    ssm = state_space(ppl.compile(model, backend="pyro"), backends=("pyro",))
    values = check_params(ssm, params)
    env, _ = static_env(ssm, values)
    out = kernels_torch.run(ssm, env, cfg, values)
    return FilterResult(out.log_likelihood, out.mean, out.var, out.ess, out.log_increment,
                        out.resampled, None, cfg)


# backend -> filter(model, params, cfg) -> FilterResult
FILTER_BACKENDS: dict[str, Callable[[Any, dict[str, Any], FilterConfig], FilterResult]] = {
    "numpyro": _filter_numpyro, "pyro": _filter_pyro,
}


def particle_filter(model: Any, params: dict[str, Any] | None = None, backend: str = "numpyro",
                    **options: Any) -> FilterResult:
    """Filters a model with one ``ppl.markov`` block at fixed static parameters.

    Args:
        model: an observed :class:`ppl.Model` (observe the block's sites by name).
        params: static latent name -> value (every latent outside the block,
            except the block's ``{name}_init``).
        backend: "numpyro" (JAX: every proposal, smoothing) or "pyro" (torch:
            every proposal, without smoothing; a proposal function returns a
            torch/Pyro distribution there).
        **options: fields of :class:`FilterConfig` (``num_particles``,
            ``proposal``, ``resampling``, ``smoothing_draws``, ``seed``, ...).
    """
    if backend not in FILTER_BACKENDS:
        raise MethodError(f"particle filters run on backends {', '.join(FILTER_BACKENDS)}, "
                          f"not '{backend}'")
    fields = {f.name for f in dataclasses.fields(FilterConfig)}
    unknown = sorted(set(options) - fields)
    if unknown:
        raise MethodError(f"particle_filter has no option(s) {', '.join(unknown)}; its "
                          f"options are: {', '.join(sorted(fields))}")
    cfg = FilterConfig(**options)
    return FILTER_BACKENDS[backend](model, dict(params or {}), cfg)
