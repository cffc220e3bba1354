"""Particle filters in torch for the Pyro backend.

The same algorithm as the JAX kernels of :mod:`.kernels`, written eagerly:
a Python loop over time steps, with each step's body run once per particle
under ``torch.func.vmap`` (particles are the leading dim of the carry), the
shared resampling schemes of :mod:`inference.smc.resampling` through the
torch array adapter, and the shared proposals of :mod:`.proposals`
(bootstrap, guided by a user proposal, locally optimal). Backward smoothing
runs on the NumPyro backend.
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import pyro
import torch

from ppl.errors import MethodError
from ppl.lowering import lower_dist, value_of
from ppl.markov_lowering import run_step

from ..smc.adapter_torch import TorchAdapter
from ..smc.resampling import RESAMPLERS
from ..smc.torch_random import OutOfPlaceRandom
from .config import FilterConfig
from .proposal_ops import TorchOps
from .proposals import proposal_handler
from .ssm import StateSpace


class TorchFilterOutput(NamedTuple):
    """Per-step outputs stacked over time (NumPy), and the final log-likelihood."""

    log_likelihood: float
    mean: np.ndarray
    var: np.ndarray
    ess: np.ndarray
    log_increment: np.ndarray
    resampled: np.ndarray


def check_config(cfg: FilterConfig) -> None:
    """MethodError for settings the torch filter does not have (they run on NumPyro)."""
    if cfg.smoothing_draws > 0:
        raise MethodError("backward smoothing (smoothing_draws > 0) runs on backend 'numpyro' "
                          "only; use backend='numpyro'")


def initial_carry(ssm: StateSpace, env: dict, num_particles: int) -> torch.Tensor:
    """(N, *carry_shape) draws of the initial carry (or copies of a fixed init)."""
    body = ssm.body
    if body.init_site is None:
        value = torch.as_tensor(value_of(ssm.backend, body.init, env))
        return value.expand((num_particles,) + tuple(value.shape)).clone()
    fn = lower_dist(ssm.graph.nodes[body.init_site]["dist"], ssm.backend, env)
    return fn.sample((num_particles,))


def run(ssm: StateSpace, env: dict, cfg: FilterConfig,
        params: dict | None = None) -> TorchFilterOutput:
    """Filters all T steps at the static values in ``env`` (``params``: static latent name ->
    value, what a user proposal receives)."""
    check_config(cfg)
    xp, resample = TorchAdapter(), RESAMPLERS[cfg.resampling]
    n, make_handler, ops = cfg.num_particles, proposal_handler(ssm, env, cfg), TorchOps()

    def move(carry: Any, t: Any, obs_t: dict, fixed_t: dict) -> tuple[Any, Any]:
        handler = make_handler(ops, carry, t, obs_t, fixed_t, dict(params or {}))
        new, _ = run_step(ssm.backend, ssm.body, env, carry, t, handler)
        return new, handler.log_weight

    moves = torch.func.vmap(move, in_dims=(0, None, None, None), randomness="different")
    keys = xp.split(xp.key(cfg.seed), ssm.length + 1)
    outputs: dict[str, list] = {k: [] for k in TorchFilterOutput._fields[1:]}
    # Draws inside the vmapped step use torch's global generator: seed a forked copy so the
    # filter is reproducible and leaves the caller's random state alone. Validation does
    # data-dependent checks, which vmap cannot trace; samplers filling tensors in place
    # (MultivariateNormal's) must draw out of place to be batched.
    with torch.random.fork_rng(devices=[]), pyro.validation_enabled(False), torch.no_grad(), \
            OutOfPlaceRandom():
        torch.manual_seed(keys[0])
        carry = initial_carry(ssm, env, n)
        log_w = torch.full((n,), -math.log(n), dtype=torch.get_default_dtype())
        log_lik = torch.zeros((), dtype=log_w.dtype)
        for t in range(ssm.length):
            ess = torch.exp(-torch.logsumexp(2 * log_w, dim=0))
            do_resample = bool(ess < cfg.ess_threshold * n)
            if do_resample:
                carry = xp.take(carry, resample(xp, keys[t + 1], log_w))
                log_w = torch.full_like(log_w, -math.log(n))
            obs_t = {k: v[t] for k, v in ssm.observed.items()}
            fixed_t = {k: v[t] for k, v in ssm.fixed.items()}
            carry, inc_w = moves(carry, torch.tensor(t), obs_t, fixed_t)
            inc_w = torch.where(torch.isnan(inc_w), torch.full_like(inc_w, -math.inf), inc_w)
            increment = torch.logsumexp(log_w + inc_w, dim=0)
            log_w = log_w + inc_w - increment
            log_lik = log_lik + increment
            weights = torch.exp(log_w).to(carry.dtype)
            mean = torch.tensordot(weights, carry, dims=1)
            var = torch.tensordot(weights, (carry - mean) ** 2, dims=1)
            for name, value in (("mean", mean), ("var", var), ("ess", ess),
                                ("log_increment", increment)):
                outputs[name].append(xp.to_numpy(value))
            outputs["resampled"].append(do_resample)
    stacked = {k: np.stack([np.asarray(v) for v in vs]) for k, vs in outputs.items()}
    return TorchFilterOutput(float(log_lik), **stacked)
