"""``ppl.markov`` on NumPyro: the body runs under ``numpyro.contrib.control_flow.scan``.

Scan records each body site once with a leading time dim, so sites keep their
names ("x" of shape (T, ...)) in traces, MCMC draws and densities.
"""
from __future__ import annotations

import contextlib
from typing import Any

import jax.numpy as jnp
import numpyro
from numpyro.contrib.control_flow import scan

from ..lowering import value_of
from ..markov_lowering import StepHandler, fixed_and_observed, run_step


class _ScanStep(StepHandler):
    """Samples with ``numpyro.sample`` inside scan; observed and fixed values sliced at t."""

    def __init__(self, env: dict[Any, Any], obs_t: dict[str, Any], fixed_t: dict[str, Any]):
        self.env, self.obs_t, self.fixed_t = env, obs_t, fixed_t

    def sample(self, site: Any, fn: Any, env: dict[Any, Any]) -> Any:
        if site.name in self.fixed_t:
            return self.fixed_t[site.name]
        with contextlib.ExitStack() as stack:
            for p in site.plates:
                stack.enter_context(self.env[("plate", p.name)])
            return numpyro.sample(site.name, fn, obs=self.obs_t.get(site.name))

    def deterministic(self, site: Any, value: Any) -> Any:
        return numpyro.deterministic(site.name, value)

    def factor(self, site: Any, value: Any) -> Any:
        numpyro.factor(site.name, value)
        return value


def lower_markov(backend: Any, site: Any, env: dict[Any, Any], observe: bool) -> Any:
    """Scans the block; sets each body site's stacked value in ``env``; returns the carries."""
    body = site.body
    fixed, obs = fixed_and_observed(body, env, observe)

    def step(carry: Any, xs: tuple) -> tuple[Any, tuple]:
        t, obs_t, fixed_t = xs
        new, values = run_step(backend, body, env, carry, t, _ScanStep(env, obs_t, fixed_t))
        return new, (new, values)

    init = value_of(backend, body.init, env)
    _, (carries, values) = scan(step, init, (jnp.arange(body.length), obs, fixed))
    env.update(values)
    return carries
