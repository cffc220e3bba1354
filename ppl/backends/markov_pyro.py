"""``ppl.markov`` on Pyro: a Python loop, with sites kept whole as (T, ...) values.

Pyro has no scan that records one site per body site, and per-step names
("x_0", "x_1", ...) would differ from NumPyro's. So each body site is one
Pyro site of shape (T, ...), like NumPyro's scan records it:

1. an ancestral loop (no Pyro sites, no gradients) proposes every latent
   trajectory; ``pyro.sample(name, _Proposed(traj))`` then returns the
   proposal, or the value MCMC/conditioning substitutes;
2. with those values fixed, a second loop scores each step: the latents'
   log densities and step factors enter one factor ``"{block}:log_prob"``,
   and each observed body site is a site whose ``log_prob`` is its per-step
   log likelihood (T, ...), so pointwise log-likelihoods stay per time step.

Observed sites sampled for prediction (``observe=False``) are proposed in a
second round, after the latents are fixed, so they follow substituted
latents (a body where latents depend on earlier *observations* is then
simulated from its observed values' proposal, which is exact for priors).
"""
from __future__ import annotations

from typing import Any

import pyro
import pyro.distributions as pd
import torch
from pyro.distributions import constraints

from ..lowering import value_of
from ..markov_lowering import StepHandler, fixed_and_observed, run_step


class _Proposed(pd.TorchDistribution):
    """A whole trajectory: ``sample`` returns the proposal; the density is a factor elsewhere."""

    arg_constraints: dict = {}

    def __init__(self, value: torch.Tensor, support: Any):
        self._value, self._support = value, support
        super().__init__(torch.Size(), value.shape, validate_args=False)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self) -> Any:
        return self._support

    def sample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        return self._value.expand(torch.Size(sample_shape) + self._value.shape)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        return torch.zeros(value.shape[:value.dim() - len(self.event_shape)], dtype=value.dtype)


class _Scored(pd.TorchDistribution):
    """An observed trajectory whose per-step log density was computed by the loop."""

    arg_constraints: dict = {}
    support = constraints.real

    def __init__(self, log_prob: torch.Tensor, event_shape: torch.Size):
        self._log_prob = log_prob
        super().__init__(log_prob.shape, event_shape, validate_args=False)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        return self._log_prob


class _Loop(StepHandler):
    """Draws sites not in ``given`` (proposal) and scores every random site."""

    def __init__(self, given: dict[str, torch.Tensor], score: bool):
        self.given, self.score, self.t = given, score, 0
        self.log_probs: dict[str, torch.Tensor] = {}
        self.supports: dict[str, Any] = {}

    def sample(self, site: Any, fn: Any, env: dict[Any, Any]) -> Any:
        self.supports.setdefault(site.name, (fn.support, len(fn.batch_shape)))
        value = self.given[site.name][self.t] if site.name in self.given else fn.sample()
        if self.score:
            self.log_probs[site.name] = fn.log_prob(value)
        return value

    def factor(self, site: Any, value: Any) -> Any:
        self.log_probs[site.name] = value
        return value


def _run_loop(backend: Any, body: Any, env: dict[Any, Any], given: dict[str, Any],
              score: bool) -> tuple[Any, dict[str, Any], dict[str, Any], _Loop]:
    """Runs all T steps; returns stacked carries, site values and log densities."""
    handler = _Loop(given, score)
    carry = value_of(backend, body.init, env)
    carries, values, log_probs = [], [], []
    for t in range(body.length):
        handler.t = t
        carry, step_values = run_step(backend, body, env, carry, torch.tensor(t), handler)
        carries.append(carry)
        values.append(step_values)
        log_probs.append(dict(handler.log_probs))
    stack = lambda rows: {k: torch.stack([r[k] for r in rows]) for k in rows[0]}  # noqa: E731
    return torch.stack(carries), stack(values), stack(log_probs) if score else {}, handler


def _trajectory_support(handler: _Loop, name: str) -> Any:
    support, batch_ndim = handler.supports[name]
    return constraints.independent(support, 1 + batch_ndim)


def lower_markov(backend: Any, site: Any, env: dict[Any, Any], observe: bool) -> Any:
    """Loops over the block; sets each body site's stacked value in ``env``; returns the carries."""
    body = site.body
    fixed, obs = fixed_and_observed(body, env, observe)
    given = {**fixed, **obs}
    rounds = ([s.name for s in body.sites if s.role == "latent" and s.name not in given
               and ("obs", s.name) not in env],
              [s.name for s in body.sites if s.role == "latent" and s.name not in given
               and ("obs", s.name) in env])
    for names in rounds:
        if not names:
            continue
        with torch.no_grad():
            _, proposal, _, handler = _run_loop(backend, body, env, given, score=False)
        for name in names:
            given[name] = pyro.sample(name, _Proposed(proposal[name],
                                                      _trajectory_support(handler, name)))
    carries, values, log_probs, _ = _run_loop(backend, body, env, given, score=True)
    block_lp = [lp.sum() for k, lp in log_probs.items() if k not in obs]
    if block_lp:
        pyro.factor(f"{body.name}:log_prob", torch.stack(block_lp).sum())
    for s in body.sites:
        if s.name in obs:
            event = obs[s.name].shape[log_probs[s.name].dim():]
            pyro.sample(s.name, _Scored(log_probs[s.name], event), obs=obs[s.name])
        elif s.role == "deterministic":
            pyro.deterministic(s.name, values[s.name])
    env.update(values)
    return carries
