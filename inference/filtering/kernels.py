"""Particle filters on a model's markov block: pure ``init`` / ``step`` kernels in JAX.

The filter carries N particles of the block's carry with normalized log
weights. A step resamples when the ESS drops below the threshold (with the
shared schemes of :mod:`inference.smc.resampling`), moves each particle with
the proposal, and reweights; the log-likelihood increment is
``log sum_i W_{t-1}^i w_t^i``, so the sum over steps is the standard unbiased
(on the natural scale) estimate of ``log p(y_{0:T-1} | params)``.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp

from ppl.lowering import lower_dist, value_of
from ppl.markov_lowering import run_step

from ..smc.adapter_jax import JaxAdapter
from ..smc.resampling import RESAMPLERS
from .config import FilterConfig
from .proposal_ops import JaxOps
from .proposals import proposal_handler
from .ssm import StateSpace


class FilterState(NamedTuple):
    """Particles after weighting at one step.

    Attributes:
        carry: (N, *carry_shape) particles.
        log_weights: (N,) normalized log weights.
        log_likelihood: running log-likelihood estimate (scalar).
    """

    carry: Any
    log_weights: Any
    log_likelihood: Any


class StepInfo(NamedTuple):
    """Per-step output: filtering moments of the carry, ESS (before resampling), increment."""

    mean: Any
    var: Any
    ess: Any
    log_increment: Any
    resampled: Any
    particles: Any
    log_weights: Any


def initial_carry(ssm: StateSpace, env: dict, key: Any, num_particles: int) -> Any:
    """(N, *carry_shape) draws of the initial carry (or copies of a fixed init)."""
    body = ssm.body
    if body.init_site is None:
        value = value_of(ssm.backend, body.init, env)
        return jnp.broadcast_to(value, (num_particles,) + jnp.shape(value))
    fn = lower_dist(ssm.graph.nodes[body.init_site]["dist"], ssm.backend, env)
    return fn.sample(key, (num_particles,))


def init(ssm: StateSpace, env: dict, key: Any, num_particles: int) -> FilterState:
    """The initial cloud: equally weighted draws of the initial carry."""
    log_w = jnp.full((num_particles,), -jnp.log(num_particles))
    return FilterState(initial_carry(ssm, env, key, num_particles), log_w, jnp.zeros(()))


def make_step(ssm: StateSpace, env: dict, params: dict, cfg: FilterConfig
              ) -> Callable[[Any, FilterState, tuple], tuple[FilterState, StepInfo]]:
    """``step(key, state, (t, obs_t, fixed_t)) -> (state, info)`` for one time step."""
    xp, resample = JaxAdapter(), RESAMPLERS[cfg.resampling]
    make_handler = proposal_handler(ssm, env, cfg)

    def move(key: Any, carry: Any, t: Any, obs_t: dict, fixed_t: dict) -> tuple[Any, Any]:
        handler = make_handler(JaxOps(key), carry, t, obs_t, fixed_t, params)
        new, _ = run_step(ssm.backend, ssm.body, env, carry, t, handler)
        return new, handler.log_weight

    def step(key: Any, state: FilterState, xs: tuple) -> tuple[FilterState, StepInfo]:
        t, obs_t, fixed_t = xs
        n = state.log_weights.shape[0]
        k_resample, k_move = jax.random.split(key)
        ess = jnp.exp(-logsumexp(2 * state.log_weights))
        do_resample = ess < cfg.ess_threshold * n
        ancestors = jnp.where(do_resample, resample(xp, k_resample, state.log_weights),
                              jnp.arange(n))
        carry = jnp.take(state.carry, ancestors, axis=0)
        prev_log_w = jnp.where(do_resample, -jnp.log(n), state.log_weights)
        keys = jax.random.split(k_move, n)
        new, log_w = jax.vmap(move, in_axes=(0, 0, None, None, None))(keys, carry, t, obs_t,
                                                                      fixed_t)
        log_w = jnp.where(jnp.isnan(log_w), -jnp.inf, log_w)
        increment = logsumexp(prev_log_w + log_w)
        weights = jnp.exp(prev_log_w + log_w - increment)
        mean = jnp.tensordot(weights, new, axes=1)
        var = jnp.tensordot(weights, (new - mean) ** 2, axes=1)
        state = FilterState(new, prev_log_w + log_w - increment,
                            state.log_likelihood + increment)
        return state, StepInfo(mean, var, ess, increment, do_resample, new, state.log_weights)

    return step


def run(ssm: StateSpace, env: dict, params: dict, key: Any, cfg: FilterConfig,
        keep_particles: bool = False) -> tuple[FilterState, StepInfo]:
    """Filters all T steps with ``lax.scan``.

    Returns:
        (final state, per-step infos stacked over time: mean/var (T, *carry_shape),
        ess/log_increment/resampled (T,), particles (T, N, ...) and log_weights
        (T, N) when ``keep_particles``, else None).
    """
    k_init, k_steps = jax.random.split(key)
    state = init(ssm, env, k_init, cfg.num_particles)
    step = make_step(ssm, env, params, cfg)

    def scan_step(state: FilterState, xs: tuple) -> tuple[FilterState, StepInfo]:
        state, info = step(xs[0], state, xs[1:])
        if not keep_particles:
            info = info._replace(particles=None, log_weights=None)
        return state, info

    ts = jnp.arange(ssm.length)
    keys = jax.random.split(k_steps, ssm.length)
    return jax.lax.scan(scan_step, state, (keys, ts, ssm.observed, ssm.fixed))
