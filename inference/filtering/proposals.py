"""Proposals of a particle filter: how one particle's step draws its latent sites.

Each proposal is a :class:`~ppl.markov_lowering.StepHandler` run by
:func:`ppl.markov_lowering.run_step` on one particle (vmapped over
particles). It draws latent sites, scores observed ones, and accumulates the
incremental log weight ``log p(x_t | x_{t-1}) + log p(y_t | x_t) - log q(x_t)``.
Written once for both backends against a :mod:`.proposal_ops` object ``ops``
(draws, distribution classes, ``jacfwd``, the array namespace).
"""
from __future__ import annotations

from typing import Any, Callable

from ppl.errors import MethodError, ShapeError
from ppl.markov_lowering import StepHandler, run_step


class Bootstrap(StepHandler):
    """Draws latents from the model's transition; weights by the observations."""

    def __init__(self, ssm: Any, ops: Any, carry: Any, t: Any, obs_t: dict, fixed_t: dict,
                 params: dict):
        self.ssm, self.ops, self.carry, self.t = ssm, ops, carry, t
        self.obs_t, self.fixed_t, self.params = obs_t, fixed_t, params
        self.log_weight = ops.ns.zeros(())

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
        return self.ops.sample(fn), self.ops.ns.zeros(())

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
        if not isinstance(q, self.ops.distribution):
            raise MethodError(f"the proposal must return a {self.ops.distribution.__module__} "
                              f"distribution, got {type(q).__name__}", site=site.name)
        shape = tuple(q.batch_shape) + tuple(q.event_shape)
        if shape != site.shape:
            raise ShapeError(f"the proposal's draws have shape {shape} but the transition's "
                             f"have shape {site.shape}", site=site.name)
        value = self.ops.sample(q)
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


def normal_params(ops: Any, fn: Any, site: str) -> tuple[Any, Any]:
    """Flattened (loc, scale) of a (possibly expanded or independent) Normal."""
    base = fn
    while isinstance(base, ops.wrappers):
        base = base.base_dist
    if not isinstance(base, ops.normal):
        raise MethodError(f"proposal='optimal' needs Normal transition and observation "
                          f"distributions, got {type(base).__name__}; use proposal='bootstrap' "
                          "or give a proposal function", site=site)
    shape = tuple(fn.batch_shape) + tuple(fn.event_shape)
    return (ops.ns.reshape(ops.ns.broadcast_to(base.loc, shape), (-1,)),
            ops.ns.reshape(ops.ns.broadcast_to(base.scale, shape), (-1,)))


class LocallyOptimal(Bootstrap):
    """The Gaussian proposal p(x_t | x_{t-1}, y_t) of a Normal transition and observation.

    The observation mean is linearized in x_t at the transition mean, so the
    proposal is exactly optimal for linear-Gaussian observations and a
    Laplace-like approximation otherwise (the weights keep the filter exact).
    """

    site_name: str = ""
    env: dict = {}

    def _observation(self, x: Any) -> Any:
        handler = _Given(self.ssm, self.ops, self.carry, self.t, self.obs_t, self.fixed_t,
                         self.params, site_name=self.site_name, value=x)
        run_step(self.ssm.backend, self.ssm.body, self.env, self.carry, self.t, handler)
        if len(self.obs_t) != 1:
            raise MethodError("proposal='optimal' needs exactly one observed site in the step")
        return handler.observation

    def propose(self, site: Any, fn: Any, env: dict[Any, Any]) -> tuple[Any, Any]:
        if site.name != self.site_name:
            return super().propose(site, fn, env)
        ops, ns = self.ops, self.ops.ns
        m, sd = normal_params(ops, fn, site.name)
        obs_name = next(iter(self.obs_t))
        loc_of = lambda x: normal_params(  # noqa: E731
            ops, self._observation(ns.reshape(x, site.shape)), obs_name)[0]
        h = ops.jacfwd(loc_of)(m)
        r = normal_params(ops, self._observation(ns.reshape(m, site.shape)), obs_name)[1] ** 2
        precision = _diag(ns, 1.0 / sd ** 2) + ns.matrix_transpose(h) @ (h / r[:, None])
        cov = ns.linalg.inv(precision)
        y = ns.reshape(self.obs_t[obs_name], (-1,))
        mean = m + cov @ (ns.matrix_transpose(h) @ ((y - loc_of(m)) / r))
        q = ops.mvn(mean, 0.5 * (cov + ns.matrix_transpose(cov)))
        value = ops.sample(q)
        return (ns.reshape(value, site.shape),
                fn.log_prob(ns.reshape(value, site.shape)).sum() - q.log_prob(value))


def _diag(ns: Any, v: Any) -> Any:
    """The diagonal matrix of a vector (D,) -> (D, D)."""
    return v[:, None] * ns.astype(ns.arange(v.shape[0])[:, None] == ns.arange(v.shape[0]),
                                  v.dtype)


def _latent_names(ssm: Any) -> list[str]:
    return [s.name for s in ssm.body.sites if s.role == "latent"
            and s.name not in ssm.observed and s.name not in ssm.fixed]


def proposal_handler(ssm: Any, env: dict, cfg: Any) -> Callable[..., Any]:
    """``make(ops, carry, t, obs_t, fixed_t, params) -> handler`` for the configured proposal.

    Shared by both backends: ``ops`` is a :mod:`.proposal_ops` object.
    """
    if cfg.proposal == "bootstrap":
        return lambda *args: Bootstrap(ssm, *args)
    latents = _latent_names(ssm)
    site = cfg.proposal_site or (latents[0] if len(latents) == 1 else None)
    if site not in latents:
        raise MethodError(f"a guided proposal needs proposal_site= naming one latent site of "
                          f"the step ({', '.join(latents) or 'none'}); got {site!r}")
    cls = LocallyOptimal if cfg.proposal == "optimal" else Guided

    def make(*args: Any) -> Any:
        handler = cls(ssm, *args)
        handler.site_name, handler.env = site, env
        if cls is Guided:
            handler.proposal_fn = cfg.proposal
        return handler

    return make
