"""Proposals of a particle filter: how one particle's step draws its latent sites.

Each proposal is a :class:`~ppl.markov_lowering.StepHandler` run by
:func:`ppl.markov_lowering.run_step` on one particle (vmapped over
particles). It draws latent sites, scores observed ones, and accumulates the
incremental log weight ``log p(x_t | x_{t-1}) + log p(y_t | x_t) - log q(x_t)``.
"""
from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpyro.distributions as nd

from ppl.errors import MethodError, ShapeError
from ppl.markov_lowering import StepHandler, run_step


class Bootstrap(StepHandler):
    """Draws latents from the model's transition; weights by the observations."""

    def __init__(self, ssm: Any, key: Any, carry: Any, t: Any, obs_t: dict, fixed_t: dict,
                 params: dict):
        self.ssm, self.key, self.carry, self.t = ssm, key, carry, t
        self.obs_t, self.fixed_t, self.params = obs_t, fixed_t, params
        self.log_weight = jnp.zeros(())

    def next_key(self) -> Any:
        self.key, sub = jax.random.split(self.key)
        return sub

    def sample(self, site: Any, fn: Any, env: dict[Any, Any]) -> Any:
        if site.name in self.fixed_t:
            return self.fixed_t[site.name]
        if site.name in self.obs_t:
            self.log_weight = self.log_weight + fn.log_prob(self.obs_t[site.name]).sum()
            return self.obs_t[site.name]
        value, log_correction = self.propose(site, fn, env)
        self.log_weight = self.log_weight + log_correction
        return value

    def propose(self, site: Any, fn: Any, env: dict[Any, Any]) -> tuple[Any, Any]:
        """(draw, log p(draw) - log q(draw)); zero correction for the transition itself."""
        return fn.sample(self.next_key()), jnp.zeros(())

    def factor(self, site: Any, value: Any) -> Any:
        self.log_weight = self.log_weight + value.sum()
        return value

    def y_t(self) -> Any:
        return next(iter(self.obs_t.values())) if len(self.obs_t) == 1 else dict(self.obs_t)


class Guided(Bootstrap):
    """Draws ``site_name`` from a user proposal ``q(carry_prev, y_t, params)``."""

    site_name: str = ""
    proposal_fn: Callable[..., Any] = staticmethod(lambda *a: None)

    def propose(self, site: Any, fn: Any, env: dict[Any, Any]) -> tuple[Any, Any]:
        if site.name != self.site_name:
            return super().propose(site, fn, env)
        q = self.proposal_fn(self.carry, self.y_t(), self.params)
        if not isinstance(q, nd.Distribution):
            raise MethodError(f"the proposal must return a numpyro distribution, got "
                              f"{type(q).__name__}", site=site.name)
        shape = tuple(q.batch_shape) + tuple(q.event_shape)
        if shape != site.shape:
            raise ShapeError(f"the proposal's draws have shape {shape} but the transition's "
                             f"have shape {site.shape}", site=site.name)
        value = q.sample(self.next_key())
        return value, fn.log_prob(value).sum() - q.log_prob(value).sum()


class _Given(Bootstrap):
    """Sets ``site_name`` to a given value and records the observed site's distribution."""

    def __init__(self, *args: Any, site_name: str, value: Any):
        super().__init__(*args)
        self.site_name, self.value, self.observation = site_name, value, None

    def sample(self, site: Any, fn: Any, env: dict[Any, Any]) -> Any:
        if site.name in self.obs_t:
            self.observation = fn
            return self.obs_t[site.name]
        if site.name == self.site_name:
            return self.value
        if site.name in self.fixed_t:
            return self.fixed_t[site.name]
        raise MethodError("proposal='optimal' needs the proposed site to be the only latent "
                          "site of the step", site=site.name)


def normal_params(fn: Any, site: str) -> tuple[Any, Any]:
    """Flattened (loc, scale) of a (possibly expanded or independent) NumPyro Normal."""
    base = fn
    while isinstance(base, (nd.Independent, nd.ExpandedDistribution)):
        base = base.base_dist
    if not isinstance(base, nd.Normal):
        raise MethodError(f"proposal='optimal' needs Normal transition and observation "
                          f"distributions, got {type(base).__name__}; use proposal='bootstrap' "
                          "or give a proposal function", site=site)
    shape = tuple(fn.batch_shape) + tuple(fn.event_shape)
    return jnp.broadcast_to(base.loc, shape).reshape(-1), jnp.broadcast_to(base.scale, shape).reshape(-1)


class LocallyOptimal(Bootstrap):
    """The Gaussian proposal p(x_t | x_{t-1}, y_t) of a Normal transition and observation.

    The observation mean is linearized in x_t at the transition mean, so the
    proposal is exactly optimal for linear-Gaussian observations and a
    Laplace-like approximation otherwise (the weights keep the filter exact).
    """

    site_name: str = ""
    env: dict = {}

    def _observation(self, x: Any) -> Any:
        handler = _Given(self.ssm, self.key, self.carry, self.t, self.obs_t, self.fixed_t,
                         self.params, site_name=self.site_name, value=x)
        run_step(self.ssm.backend, self.ssm.body, self.env, self.carry, self.t, handler)
        if len(self.obs_t) != 1:
            raise MethodError("proposal='optimal' needs exactly one observed site in the step")
        return handler.observation

    def propose(self, site: Any, fn: Any, env: dict[Any, Any]) -> tuple[Any, Any]:
        if site.name != self.site_name:
            return super().propose(site, fn, env)
        m, sd = normal_params(fn, site.name)
        obs_name = next(iter(self.obs_t))
        loc_of = lambda x: normal_params(self._observation(x.reshape(site.shape)), obs_name)[0]  # noqa: E731
        h = jax.jacfwd(loc_of)(m)
        r = normal_params(self._observation(m.reshape(site.shape)), obs_name)[1] ** 2
        precision = jnp.diag(1.0 / sd ** 2) + h.T @ (h / r[:, None])
        cov = jnp.linalg.inv(precision)
        mean = m + cov @ (h.T @ ((self.obs_t[obs_name].reshape(-1) - loc_of(m)) / r))
        q = nd.MultivariateNormal(mean, covariance_matrix=0.5 * (cov + cov.T))
        value = q.sample(self.next_key())
        return (value.reshape(site.shape),
                fn.log_prob(value.reshape(site.shape)).sum() - q.log_prob(value))
