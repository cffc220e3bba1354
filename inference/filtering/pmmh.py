"""Particle-marginal Metropolis-Hastings over static parameters, registered as "pmmh".

Random-walk Metropolis in the unconstrained space of the static latents; the
intractable likelihood in the acceptance ratio is replaced by the particle
filter's estimate, which keeps the exact posterior as the chain's target
(Andrieu, Doucet & Holenstein 2010). The kernel is a pure ``init`` / ``step``
pair; chains are vmapped and iterations run in one ``lax.scan``.
"""
from __future__ import annotations

import time
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from numpyro.distributions.transforms import biject_to

from ..posterior import Posterior
from . import kernels
from .config import PMMHConfig
from .pmmh_common import adapt_rates, adapted_log_step, make_posterior
from .ssm import StateSpace, state_space, unconstrained_log_density, unconstrained_shapes, walk_statics


class PMMHState(NamedTuple):
    """One chain: flat unconstrained position (D,), its log target and PF log-likelihood."""

    position: Any
    log_target: Any
    log_likelihood: Any
    log_step_size: Any


class PMMHInfo(NamedTuple):
    accepted: Any
    log_likelihood: Any
    log_target: Any


def make_log_target(ssm: StateSpace, cfg: PMMHConfig, shapes: dict) -> Callable[[Any, Any], tuple]:
    """``(key, flat) -> (log prior + log-Jacobian + PF log-likelihood, PF log-likelihood)``."""
    filter_cfg = cfg.filter_config()

    def log_target(key: Any, flat: Any) -> tuple[Any, Any]:
        values, log_prior = unconstrained_log_density(ssm, flat, shapes)
        env, _ = walk_statics(ssm, lambda name, fn: (values[name], 0.0))
        final, _ = kernels.run(ssm, env, values, key, filter_cfg)
        total = log_prior + final.log_likelihood
        return jnp.where(jnp.isnan(total), -jnp.inf, total), final.log_likelihood

    return log_target


def init(key: Any, position: Any, log_target: Callable, step_size: float) -> PMMHState:
    value, log_lik = log_target(key, position)
    return PMMHState(position, value, log_lik, jnp.log(step_size))


def step(key: Any, state: PMMHState, log_target: Callable, adapt_rate: Any,
         target_accept: float) -> tuple[PMMHState, PMMHInfo]:
    """One random-walk MH step; ``adapt_rate > 0`` nudges the step size (warmup only)."""
    k_move, k_filter, k_accept = jax.random.split(key, 3)
    proposal = state.position + jnp.exp(state.log_step_size) * jax.random.normal(
        k_move, state.position.shape)
    value, log_lik = log_target(k_filter, proposal)
    accept_prob = jnp.exp(jnp.minimum(0.0, value - state.log_target))
    accepted = jax.random.uniform(k_accept) < accept_prob
    log_step = adapted_log_step(state.log_step_size, adapt_rate, accept_prob, target_accept)
    new = PMMHState(jnp.where(accepted, proposal, state.position),
                    jnp.where(accepted, value, state.log_target),
                    jnp.where(accepted, log_lik, state.log_likelihood), log_step)
    return new, PMMHInfo(accepted, new.log_likelihood, new.log_target)


def _initial_positions(ssm: StateSpace, key: Any, chains: int) -> Any:
    """Prior draws of the statics, unconstrained and flattened: (chains, D)."""
    rows = []
    for k in jax.random.split(key, chains):
        keys, parts = [k], []

        def draw(name: str, fn: Any) -> tuple[Any, Any]:
            keys[0], sub = jax.random.split(keys[0])
            value = fn.sample(sub)
            parts.append(jnp.reshape(biject_to(fn.support).inv(value), -1))
            return value, 0.0

        walk_statics(ssm, draw)
        rows.append(jnp.concatenate(parts) if parts else jnp.zeros((0,)))
    return jnp.stack(rows)


def run_pmmh(program: Any, cfg: PMMHConfig) -> Posterior:
    """Runs ``cfg.chains`` PMMH chains and wraps the kept draws as a Posterior."""
    ssm = state_space(program)
    shapes = unconstrained_shapes(ssm)
    log_target = make_log_target(ssm, cfg, shapes)
    total = cfg.warmup + cfg.draws
    rates = jnp.asarray(adapt_rates(cfg))

    def one_chain(key: Any, position: Any) -> tuple[PMMHState, PMMHInfo]:
        k_init, k_run = jax.random.split(key)
        state = init(k_init, position, log_target, cfg.step_size)

        def body(state: PMMHState, xs: tuple) -> tuple[PMMHState, tuple]:
            k, rate = xs
            state, info = step(k, state, log_target, rate, cfg.target_accept)
            return state, (state.position, info)

        return jax.lax.scan(body, state, (jax.random.split(k_run, total), rates))

    start = time.perf_counter()
    key = jax.random.PRNGKey(cfg.seed)
    k_pos, k_chains = jax.random.split(key)
    positions = _initial_positions(ssm, k_pos, cfg.chains)
    final, (trace, info) = jax.jit(jax.vmap(one_chain))(jax.random.split(k_chains, cfg.chains),
                                                        positions)
    trace = jax.block_until_ready(trace)[:, cfg.warmup:]
    sampling = time.perf_counter() - start
    constrain = jax.jit(jax.vmap(jax.vmap(
        lambda flat: unconstrained_log_density(ssm, flat, shapes)[0])))
    samples = {k: np.asarray(v) for k, v in constrain(trace).items()}
    kept = jax.tree_util.tree_map(lambda a: np.asarray(a)[:, cfg.warmup:], info)
    return make_posterior(program, cfg, samples, kept.accepted, kept.log_likelihood,
                          kept.log_target, np.exp(np.asarray(final.log_step_size)), sampling)
