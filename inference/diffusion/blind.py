"""The linear-Gaussian likelihood in SVD coordinates, with known or unknown noise.

The SMC samplers (TDS, MCGdiff) see an observation y_u = A u + sigma_u eps in
diffusion space through the thin SVD A = U diag(s) V^T: with c = U^T y_u,

    log N(y_u; A u, sigma_u^2 I) = sum_i log N(c_i; s_i (V^T u)_i, sigma_u^2)
                                   + log N(y_perp; 0, sigma_u^2 I_{m-r}),

where |y_perp|^2 = |y_u|^2 - |c|^2 is the part of y outside the range of A.
Replacing V^T u by an estimate whose error has variance ``spread2`` per
coordinate adds ``spread2 * s_i^2`` to each variance: that is both samplers'
twisting potential, and the exact likelihood when ``spread2 = 0``.

A *blind* problem has sigma as a latent scalar site with its own prior; the
particles then carry their own sigma (as ``noise_var`` = sigma_u^2, shape
(n, 1)) and :func:`mh_noise` moves it by Metropolis-Hastings on log sigma
between diffusion steps, leaving each intermediate SMC target invariant.
"""
from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import numpy as np

from ppl.errors import MethodError
from ppl.graph import site_of

LOG_2PI = math.log(2 * math.pi)


class SVDGaussian(NamedTuple):
    """The observation in the SVD coordinates of the pulled-back operator.

    Attributes:
        c: (r,) U^T y_u; s: (r,) singular values; V: (d, r) right singular vectors.
        ortho2: |y_perp|^2; m: dim of y; log_scale: m log(scale), the log-Jacobian
            from data-space to diffusion-space evidence.
        noise_var: (1, 1) sigma_u^2, or None when sigma is a latent site.
    """

    c: Any
    s: Any
    V: Any
    ortho2: float
    m: int
    log_scale: float
    noise_var: Any


def svd_gaussian(problem: Any) -> SVDGaussian:
    """The problem's linear observation in SVD coordinates, as backend arrays."""
    op, y_u, sigma_u = problem.pulled_back()
    svd, adapter = op.svd(), problem.view.adapter
    c = svd.U.T @ y_u
    ortho2 = max(float(y_u @ y_u - c @ c), 0.0)
    noise_var = None if sigma_u is None else adapter.asarray(np.full((1, 1), sigma_u**2))
    return SVDGaussian(adapter.asarray(c), adapter.asarray(svd.s), adapter.asarray(svd.V),
                       ortho2, int(op.out_dim), op.out_dim * math.log(problem.view.scale), noise_var)


def svd_log_lik(xp: Any, g: SVDGaussian, coords: Any, spread2: Any, noise_var: Any) -> Any:
    """log N(y_u; A u, ...) with V^T u replaced by ``coords`` (n, r) of error variance ``spread2``.

    Args:
        coords: (n, r) estimates of V^T u.
        spread2: float, variance of each coordinate's estimate (0: exact likelihood).
        noise_var: (n, 1) or (1, 1) sigma_u^2.

    Returns:
        (n,) log densities.
    """
    var = noise_var + spread2 * g.s**2
    quad = xp.sum((g.c - g.s * coords) ** 2 / var + xp.log(var), axis=-1)
    rest = (g.m - g.s.shape[0]) * xp.log(noise_var[:, 0]) + g.ortho2 / noise_var[:, 0]
    return -0.5 * (quad + rest + g.m * LOG_2PI)


def split_keys(adapter: Any, key: Any, n: int) -> list[Any]:
    """n keys from ``key``, also for a traced JAX key (``adapter.split`` goes through numpy)."""
    if adapter.name == "numpyro":
        import jax

        return list(jax.random.split(key, n))
    return adapter.split(key, n)


class NoisePrior(NamedTuple):
    """The prior of a blind problem's noise scale (data units)."""

    site: str
    log_prob: Callable[[Any], Any]        # sigma (n,) -> (n,)
    sample: Callable[[int, Any], Any]     # (n, key) -> sigma (n,) backend array
    scale: float                          # diffusion-space scale: sigma_u = sigma / scale


def _sampler(adapter: Any, dist: Any) -> Callable[[int, Any], Any]:
    if adapter.name == "numpyro":
        return lambda n, key: dist.sample(key, (n,))

    def torch_sample(n: int, key: int) -> Any:
        import torch

        with torch.random.fork_rng(devices=[]):  # keep the global torch RNG untouched
            torch.manual_seed(int(key))
            return dist.sample((n,))

    return torch_sample


def noise_prior(problem: Any) -> NoisePrior:
    """The lowered prior of ``problem.noise_site``; it must be scalar with constant parameters."""
    from ppl.lowering import lower_dist

    site, program = problem.noise_site, problem.program
    spec = site_of(program.graph, site).dist
    if tuple(spec.shape) != ():
        raise MethodError(f"the noise scale of a blind problem must be a scalar, got shape "
                          f"{tuple(spec.shape)}", site=site)
    try:
        dist = lower_dist(spec, program.backend, {})
    except Exception as err:  # parameters that depend on other sites cannot be lowered alone
        raise MethodError(f"the prior of the noise scale must have constant parameters ({err})",
                          site=site) from err
    return NoisePrior(site, dist.log_prob, _sampler(problem.view.adapter, dist), problem.view.scale)


def initial_noise_var(adapter: Any, prior: NoisePrior, n: int, key: Any) -> Any:
    """sigma_u^2 (n, 1) for n prior draws of sigma."""
    sigma = adapter.asarray(adapter.to_numpy(prior.sample(n, key)))
    return adapter.xp.reshape((sigma / prior.scale) ** 2, (n, 1))


def noise_sigma(noise_var: Any, prior: NoisePrior, xp: Any) -> Any:
    """sigma in data units (n,) from sigma_u^2 (n, 1)."""
    return xp.sqrt(noise_var[:, 0]) * prior.scale


def mh_noise(adapter: Any, key: Any, noise_var: Any, log_lik: Callable[[Any], Any],
             prior: NoisePrior, moves: int) -> tuple[Any, Any, float]:
    """Random-walk MH on log sigma targeting p(sigma) exp(log_lik(sigma_u^2)), per particle.

    The step size is 2.38 times the particles' spread of log sigma (a function
    of the population, as usual in SMC), with a floor so that a collapsed
    population still moves.

    Returns:
        (noise_var (n, 1), log_lik at it (n,), mean acceptance rate (a 0-d array)).
    """
    xp = adapter.xp
    log_sigma = xp.log(noise_sigma(noise_var, prior, xp))
    # No host round trip, so the moves trace inside a compiled SMC step.
    step = xp.maximum(2.38 * xp.std(log_sigma), xp.asarray(1e-2, dtype=log_sigma.dtype))
    current = log_lik(noise_var)
    target = current + prior.log_prob(xp.exp(log_sigma)) + log_sigma
    accepted = 0.0
    for move_key in split_keys(adapter, key, moves):
        k_step, k_accept = split_keys(adapter, move_key, 2)
        n = log_sigma.shape[0]
        proposal = log_sigma + step * adapter.normal(k_step, (n,))
        proposal_var = xp.reshape((xp.exp(proposal) / prior.scale) ** 2, (n, 1))
        proposal_lik = log_lik(proposal_var)
        proposal_target = proposal_lik + prior.log_prob(xp.exp(proposal)) + proposal
        accept = xp.log(adapter.uniform(k_accept, (n,))) < proposal_target - target
        log_sigma = xp.where(accept, proposal, log_sigma)
        target = xp.where(accept, proposal_target, target)
        current = xp.where(accept, proposal_lik, current)
        noise_var = xp.where(accept[:, None], proposal_var, noise_var)
        accepted = accepted + xp.mean(xp.astype(accept, log_sigma.dtype))
    return noise_var, current, accepted / max(moves, 1)
