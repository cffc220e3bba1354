"""The particle-filter entry point and its result (imports JAX)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np

from ppl.errors import MethodError

from . import kernels as _pf
from .config import FilterConfig, PMMHConfig
from .kalman import kalman_filter
from .smoothing import backward_simulation
from .ssm import check_params, state_space, static_env


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


def particle_filter(model: Any, params: dict[str, Any] | None = None, backend: str = "numpyro",
                    **options: Any) -> FilterResult:
    """Filters a model with one ``ppl.markov`` block at fixed static parameters.

    Args:
        model: an observed :class:`ppl.Model` (observe the block's sites by name).
        params: static latent name -> value (every latent outside the block,
            except the block's ``{name}_init``).
        backend: "numpyro" only (the filter is written in JAX).
        **options: fields of :class:`FilterConfig` (``num_particles``,
            ``proposal``, ``resampling``, ``smoothing_draws``, ``seed``, ...).
    """
    import ppl

    if backend != "numpyro":
        raise MethodError(f"particle filters run on backend 'numpyro' only, not '{backend}'; "
                          "use backend='numpyro' (markov models run NUTS on both backends)")
    fields = {f.name for f in dataclasses.fields(FilterConfig)}
    unknown = sorted(set(options) - fields)
    if unknown:
        raise MethodError(f"particle_filter has no option(s) {', '.join(unknown)}; its "
                          f"options are: {', '.join(sorted(fields))}")
    cfg = FilterConfig(**options)
    ssm = state_space(ppl.compile(model, backend="numpyro"))
    values = check_params(ssm, dict(params or {}))
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
