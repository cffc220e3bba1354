"""Wrapping a diffusion sampler's output as a :class:`~inference.posterior.Posterior`."""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ppl.graph import site_of

from ..draws import with_deterministic
from ..posterior import Posterior


def _numpy(adapter: Any, value: Any) -> np.ndarray:
    return np.asarray(adapter.to_numpy(value), dtype=np.float64)


def data_log_lik(problem: Any, u: np.ndarray, extra_samples: dict[str, Any] | None = None) -> np.ndarray:
    """log p(y | draw) (chain, draw) for diffusion-space draws u (chain, draw, d).

    ``extra_samples`` holds the draws (chain, draw, ...) of the model's other
    latents (a blind problem's sigma). Compiled (and shared across runs) on JAX.
    """
    adapter, (chains, draws, dim) = problem.view.adapter, u.shape
    values = {site: adapter.asarray(np.reshape(_numpy(adapter, v), (chains * draws,) + np.shape(v)[2:]))
              for site, v in (extra_samples or {}).items()}
    log_lik = adapter.jit_shared(problem.log_likelihood)(adapter.asarray(u.reshape(-1, dim)), values)
    return _numpy(adapter, log_lik).reshape(chains, draws)


def _finite_notes(u: np.ndarray, name: str) -> list[str]:
    bad = int(np.sum(~np.all(np.isfinite(u), axis=-1)))
    if not bad:
        return []
    note = (f"{name}: {bad} of {u.shape[0] * u.shape[1]} draws are not finite (the sampler "
            "diverged; try more steps or a smaller guidance scale)")
    warnings.warn(note, RuntimeWarning, stacklevel=3)
    return [note]


def make_posterior(problem: Any, name: str, config: Any, draws_u: Any,
                   log_weights: Any = None, ess: Any = None, log_evidence: float | None = None,
                   log_evidence_se: float | None = None, nfe: int = 0, seconds: float = 0.0,
                   extra_samples: dict[str, Any] | None = None,
                   extras: dict[str, Any] | None = None) -> Posterior:
    """A Posterior of the diffusion-prior latent, in data space.

    Args:
        problem: the :class:`~inference.diffusion.problem.DiffusionProblem`.
        name: the method's registered name.
        config: the method's config.
        draws_u: diffusion-space draws (chain, draw, d), numpy or backend array.
        log_weights: final log weights (chain, draw) of weighted draws (SMC), or None.
        ess: effective sample size per step (chain, step), or None.
        log_evidence, log_evidence_se: log p(y) estimate and its standard error.
        nfe: denoiser calls per chain. A call evaluates a whole batch of draws or
            particles; SMC samplers that split their populations into memory
            batches (``particles.population_batches``) make one call per batch
            and step, so per particle path the count is the number of steps.
        seconds: sampling time.
        extra_samples: other latents' draws, site -> (chain, draw, ...) (e.g. sigma).
        extras: further method-specific results.

    Returns:
        Posterior with samples[latent] shaped (chain, draw, *event_shape),
        deterministic sites recomputed, sample_stats["log_weight"] when
        weights are given, else sample_stats["data_log_lik"] = log p(y | x)
        per draw (how well each draw explains the data), extras ``nfe``,
        ``ess`` and ``seconds``, and a note when draws are not finite.
    """
    view, adapter = problem.view, problem.view.adapter
    u = _numpy(adapter, draws_u)
    chains, draws = u.shape[:2]
    x = u * view.scale + view.shift
    event_shape = tuple(site_of(problem.program.graph, problem.latent).event_shape)
    samples = {problem.latent: x.reshape((chains, draws) + event_shape)}
    for site, value in (extra_samples or {}).items():
        samples[site] = _numpy(adapter, value)
    samples = with_deterministic(problem.program, samples, int(getattr(config, "seed", 0)))
    if log_weights is None:
        stats = {"data_log_lik": data_log_lik(problem, u, extra_samples)}
    else:
        stats = {"log_weight": _numpy(adapter, log_weights)}
    info: dict[str, Any] = {"nfe": int(nfe), "seconds": float(seconds)}
    if ess is not None:
        info["ess"] = _numpy(adapter, ess)
    info.update(extras or {})
    return Posterior(samples=samples, sample_stats=stats, method=name,
                     backend=problem.program.backend_name, config=config,
                     timings={"sampling": float(seconds)}, program=problem.program,
                     log_evidence=log_evidence, log_evidence_se=log_evidence_se, extras=info,
                     notes=_finite_notes(u, name))
