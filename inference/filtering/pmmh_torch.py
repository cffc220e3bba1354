"""PMMH on the Pyro backend: the JAX driver's algorithm around the torch particle filter.

Random-walk Metropolis in the unconstrained space of the static latents
(torch's ``biject_to`` of each site's support, given earlier sites), the
torch filter's log-likelihood estimate in the acceptance ratio, and the
warmup step-size adaptation of :mod:`.pmmh_common`. The torch filter loops
over time in Python, so chains run one after another; ``init`` / ``step``
are pure given a NumPy generator.
"""
from __future__ import annotations

import math
import time
from typing import Any, Callable, NamedTuple

import numpy as np
import pyro
import torch
from torch.distributions import biject_to

from ..posterior import Posterior
from . import kernels_torch
from .config import PMMHConfig
from .pmmh_common import adapt_rates, adapted_log_step, make_posterior
from .ssm import StateSpace, state_space, walk_statics


class PMMHState(NamedTuple):
    """One chain: flat unconstrained position (D,), its log target and PF log-likelihood."""

    position: np.ndarray
    log_target: float
    log_likelihood: float
    log_step_size: float


class PMMHInfo(NamedTuple):
    accepted: bool
    log_likelihood: float
    log_target: float


def unconstrained_shapes(ssm: StateSpace) -> dict[str, tuple[int, ...]]:
    """Unconstrained shape of each static latent (a prior draw mapped back)."""
    shapes = {}

    def draw(name: str, fn: Any) -> tuple[Any, Any]:
        value = fn.sample()
        shapes[name] = tuple(biject_to(fn.support).inv(value).shape)
        return value, 0.0

    with torch.random.fork_rng(devices=[]), torch.no_grad():
        walk_statics(ssm, draw)
    return shapes


def constrain(ssm: StateSpace, flat: torch.Tensor, shapes: dict[str, tuple[int, ...]]
              ) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """(static values, outer env, log prior + log-Jacobian) at a flat unconstrained (D,) point."""
    offsets, start = {}, 0
    for n in ssm.static_names:
        offsets[n] = start
        start += math.prod(shapes[n])

    def choose(name: str, fn: Any) -> tuple[Any, Any]:
        u = flat[offsets[name]:offsets[name] + math.prod(shapes[name])].reshape(shapes[name])
        transform = biject_to(fn.support)
        value = transform(u)
        return value, transform.log_abs_det_jacobian(u, value).sum()

    env, log_p = walk_statics(ssm, choose)
    return {n: env[n] for n in ssm.static_names}, env, log_p


def make_log_target(ssm: StateSpace, cfg: PMMHConfig, shapes: dict
                    ) -> Callable[[int, np.ndarray], tuple[float, float]]:
    """``(filter seed, flat) -> (log prior + log-Jacobian + PF log-likelihood, PF log-lik)``."""

    def log_target(seed: int, flat: np.ndarray) -> tuple[float, float]:
        point = torch.as_tensor(flat, dtype=torch.get_default_dtype())
        # Proposals far out in the tails may leave a support by rounding: score them -inf
        # rather than raising from validation.
        with torch.no_grad(), pyro.validation_enabled(False):
            values, env, log_prior = constrain(ssm, point, shapes)
            log_prior = float(log_prior)
            if not math.isfinite(log_prior):
                return -math.inf, -math.inf
            out = kernels_torch.run(ssm, env, cfg.filter_config(seed=seed), values)
        total = log_prior + out.log_likelihood
        return (-math.inf if math.isnan(total) else total), out.log_likelihood

    return log_target


def _filter_seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2 ** 31 - 1))


def init(rng: np.random.Generator, position: np.ndarray, log_target: Callable,
         step_size: float) -> PMMHState:
    value, log_lik = log_target(_filter_seed(rng), position)
    return PMMHState(position, value, log_lik, math.log(step_size))


def step(rng: np.random.Generator, state: PMMHState, log_target: Callable, adapt_rate: float,
         target_accept: float) -> tuple[PMMHState, PMMHInfo]:
    """One random-walk MH step; ``adapt_rate > 0`` nudges the step size (warmup only)."""
    proposal = state.position + math.exp(state.log_step_size) * rng.standard_normal(
        state.position.shape)
    value, log_lik = log_target(_filter_seed(rng), proposal)
    accept_prob = math.exp(min(0.0, value - state.log_target)) if value > -math.inf else 0.0
    accepted = bool(rng.uniform() < accept_prob)
    log_step = adapted_log_step(state.log_step_size, adapt_rate, accept_prob, target_accept)
    if accepted:
        new = PMMHState(proposal, value, log_lik, log_step)
    else:
        new = state._replace(log_step_size=log_step)
    return new, PMMHInfo(accepted, new.log_likelihood, new.log_target)


def _initial_position(ssm: StateSpace) -> np.ndarray:
    """A prior draw of the statics (torch's generator), unconstrained and flattened: (D,)."""
    parts = []

    def draw(name: str, fn: Any) -> tuple[Any, Any]:
        value = fn.sample()
        parts.append(biject_to(fn.support).inv(value).reshape(-1))
        return value, 0.0

    with torch.no_grad():
        walk_statics(ssm, draw)
    return torch.cat(parts).double().numpy() if parts else np.zeros(0)


def run_pmmh(program: Any, cfg: PMMHConfig) -> Posterior:
    """Runs ``cfg.chains`` PMMH chains one after another and wraps the kept draws."""
    ssm = state_space(program, backends=("pyro",))
    shapes = unconstrained_shapes(ssm)
    log_target = make_log_target(ssm, cfg, shapes)
    rates = adapt_rates(cfg)
    start = time.perf_counter()
    rngs = np.random.default_rng(cfg.seed).spawn(cfg.chains)
    traces, infos, finals = [], [], []
    for c, rng in enumerate(rngs):
        with torch.random.fork_rng(devices=[]):  # the caller's torch random state stays put
            torch.manual_seed(cfg.seed * 1000 + c)
            state = init(rng, _initial_position(ssm), log_target, cfg.step_size)
        positions, info = [], []
        for rate in rates:
            state, i = step(rng, state, log_target, float(rate), cfg.target_accept)
            positions.append(state.position)
            info.append(i)
        traces.append(np.stack(positions)[cfg.warmup:])
        infos.append(info[cfg.warmup:])
        finals.append(state)
    sampling = time.perf_counter() - start
    samples = _constrained_draws(ssm, np.stack(traces), shapes)
    stat = {f: np.array([[getattr(i, f) for i in info] for info in infos])
            for f in PMMHInfo._fields}
    return make_posterior(program, cfg, samples, stat["accepted"], stat["log_likelihood"],
                          stat["log_target"], np.exp([s.log_step_size for s in finals]), sampling)


def _constrained_draws(ssm: StateSpace, trace: np.ndarray, shapes: dict) -> dict[str, np.ndarray]:
    """(chains, draws, D) unconstrained trace -> site name -> (chains, draws, *shape)."""
    chains, draws = trace.shape[:2]
    out: dict[str, list] = {n: [] for n in ssm.static_names}
    with torch.no_grad(), pyro.validation_enabled(False):
        for flat in trace.reshape(chains * draws, -1):
            values, _, _ = constrain(ssm, torch.as_tensor(flat, dtype=torch.get_default_dtype()),
                                     shapes)
            for n in ssm.static_names:
                out[n].append(values[n].numpy())
    return {n: np.stack(v).reshape((chains, draws) + np.shape(v[0])) for n, v in out.items()}
