"""``infer`` and ``predictive``: the entry points users call through ``ppl``."""
from __future__ import annotations

import time
from typing import Any

import numpy as np

import ppl
from ppl.errors import MethodError, ModelError

from .posterior import Posterior
from .registry import check_method, choose_auto, make_config


def _require_model(model: Any, fn: str) -> None:
    if not isinstance(model, ppl.Model):
        raise ModelError(f"{fn} needs a ppl.Model, got {type(model).__name__}; call the "
                         "@ppl.model function with its data first")


def infer(model: ppl.Model, method: str = "auto", backend: str = "numpyro", **options: Any) -> Posterior:
    """Runs an inference method on a model.

    Args:
        model: the (observed) model.
        method: a registered method name ("nuts", "hmc", ...) or "auto".
        backend: "numpyro" or "pyro".
        **options: fields of the method's config (e.g. ``chains``, ``warmup``,
            ``draws``, ``seed``, ``progress``, ``device`` for MCMC).

    Returns:
        A :class:`Posterior`.
    """
    _require_model(model, "ppl.infer")
    start = time.perf_counter()
    graph = model.graph
    notes = []
    if method == "auto":
        method, why = choose_auto(graph, backend)
        notes.append(why)
    spec = check_method(method, graph, backend)
    config = make_config(spec, options)
    compile_start = time.perf_counter()
    program = ppl.compile(model, backend=backend, device=getattr(config, "device", "cpu"))
    compile_time = time.perf_counter() - compile_start
    post = spec.runner(program, config)
    post.notes[:0] = notes
    post.timings.update(compile=compile_time, total=time.perf_counter() - start)
    return post


def predictive(model: ppl.Model, posterior: Posterior | None = None, num_samples: int = 500,
               seed: int = 0, backend: str = "numpyro", device: str = "cpu") -> dict[str, np.ndarray]:
    """Prior predictive (no posterior) or posterior predictive draws.

    Returns:
        site name -> draws. Prior: (num_samples, *shape) for every latent,
        observed and deterministic site. Posterior: (chain, draw, *shape) for
        observed and deterministic sites (and latents the posterior lacks, e.g.
        outputs at new inputs), one draw per posterior draw.
    """
    _require_model(model, "ppl.predictive")
    if posterior is None:
        return ppl.compile(model.unobserved(), backend, device).sample_prior(num_samples, seed)
    program = ppl.compile(model, backend=posterior.backend, device=device)
    given = [k for k in program.latent_names if k in posterior.samples]
    if not given and program.latent_names:
        raise MethodError(f"the posterior has draws of none of the model's latent sites "
                          f"({', '.join(program.latent_names)}); is it from another model?")
    chains = posterior.num_chains
    flat = {k: posterior.flat(k) for k in given}
    draws = program.sample_predictive(flat, seed=seed)
    return {k: v.reshape((chains, -1) + v.shape[1:]) for k, v in draws.items()}
