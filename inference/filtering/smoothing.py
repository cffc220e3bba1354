"""Backward-simulation smoothing (FFBSi) from a particle filter's stored clouds.

Draws trajectories from p(x_{0:T-1} | y_{0:T-1}): the last state from the
final filtering weights, then backwards
``P(x_t = x_t^i | x_{t+1}) ∝ W_t^i p(x_{t+1} | x_t^i)``. It needs the
transition density of the carry, so the carry must be the step's only latent
site (``return x`` from the step). Cost O(T · draws · N).
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from ppl.errors import MethodError
from ppl.expr import SiteValue
from ppl.markov_lowering import StepHandler, run_step

from .ssm import StateSpace


class _Transition(StepHandler):
    """Sets the state site to a given next value and records its transition log density."""

    def __init__(self, ssm: StateSpace, site: str, value: Any, obs_t: dict, fixed_t: dict):
        self.site, self.value, self.given = site, value, {**obs_t, **fixed_t}
        self.log_prob = jnp.zeros(())

    def sample(self, site: Any, fn: Any, env: dict[Any, Any]) -> Any:
        if site.name == self.site:
            self.log_prob = fn.log_prob(self.value).sum()
            return self.value
        return self.given[site.name]


def state_site(ssm: StateSpace) -> str:
    """The latent site the carry equals; MethodError when the step returns anything else."""
    latents = [s.name for s in ssm.body.sites if s.role == "latent"
               and s.name not in ssm.observed and s.name not in ssm.fixed]
    carry = ssm.body.carry
    if len(latents) != 1 or not isinstance(carry, SiteValue) or carry.name != latents[0]:
        raise MethodError("backward smoothing needs a step with one latent site that it "
                          "returns as the carry (e.g. `return x`)")
    return latents[0]


def backward_simulation(ssm: StateSpace, env: dict, key: Any, particles: Any, log_weights: Any,
                        num_draws: int) -> Any:
    """Smoothed trajectories.

    Args:
        particles: (T, N, *carry_shape) filtering particles after each step.
        log_weights: (T, N) their normalized log weights.

    Returns:
        (num_draws, T, *carry_shape) trajectories.
    """
    site = state_site(ssm)
    length = particles.shape[0]

    def log_transition(prev: Any, nxt: Any, t: Any) -> Any:
        obs_t = {k: v[t] for k, v in ssm.observed.items()}
        fixed_t = {k: v[t] for k, v in ssm.fixed.items()}
        handler = _Transition(ssm, site, nxt, obs_t, fixed_t)
        run_step(ssm.backend, ssm.body, env, prev, t, handler)
        return handler.log_prob

    pairwise = jax.vmap(jax.vmap(log_transition, (0, None, None)), (None, 0, None))
    k_last, k_back = jax.random.split(key)
    last = jax.random.categorical(k_last, log_weights[-1], shape=(num_draws,))
    x_last = particles[-1][last]

    def back(x_next: Any, xs: tuple) -> tuple[Any, Any]:
        k, parts, log_w, t_next = xs
        logits = log_w[None, :] + pairwise(parts, x_next, t_next)  # (draws, N)
        x = parts[jax.random.categorical(k, logits, axis=-1)]
        return x, x

    keys = jax.random.split(k_back, length - 1)
    xs = (keys, particles[:-1], log_weights[:-1], jnp.arange(1, length))
    _, earlier = jax.lax.scan(back, x_last, xs, reverse=True)
    paths = jnp.concatenate([earlier, x_last[None]], axis=0)
    return jnp.moveaxis(paths, 0, 1)
