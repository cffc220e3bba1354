"""SVI through NumPyro: autoguides, Trace/Renyi ELBO, optax Adam with a schedule."""
from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from numpyro import handlers
from numpyro.infer import SVI, RenyiELBO, Trace_ELBO, autoguide
from numpyro.infer.util import log_density
from numpyro.optim import optax_to_numpyro

from .config import SVIConfig
from .convergence import optimise, schedule_factor

# Steps run inside one compiled lax.scan between convergence checks.
CHUNK = 100

GUIDES = {
    "normal": lambda model, cfg: autoguide.AutoNormal(model),
    "mvn": lambda model, cfg: autoguide.AutoMultivariateNormal(model),
    # rank None: NumPyro's default, about sqrt of the latent dimension.
    "lowrank": lambda model, cfg: autoguide.AutoLowRankMultivariateNormal(model, rank=cfg.rank),
    "flow": lambda model, cfg: autoguide.AutoIAFNormal(model, num_flows=cfg.num_flows),
}
OBJECTIVES = {
    "elbo": lambda cfg: Trace_ELBO(num_particles=cfg.num_particles),
    "iwelbo": lambda cfg: RenyiELBO(alpha=0.0, num_particles=cfg.num_particles),
}


def _optimizer(cfg: SVIConfig) -> Any:
    factor = schedule_factor(cfg.schedule, cfg.steps, cos=jnp.cos)
    return optax_to_numpyro(optax.adam(lambda t: cfg.learning_rate * factor(t)))


def _train(svi: SVI, cfg: SVIConfig) -> tuple[Any, np.ndarray, int | None]:
    state = svi.init(jax.random.PRNGKey(cfg.seed))

    # n is static: at most two compilations (full chunks and the remainder).
    @partial(jax.jit, static_argnums=1)
    def run_chunk(state: Any, n: int) -> tuple[Any, Any]:
        return jax.lax.scan(lambda s, _: svi.update(s), state, None, length=n)

    holder = {"state": state}

    def update(n: int) -> np.ndarray:
        holder["state"], losses = run_chunk(holder["state"], n)
        return np.asarray(losses)

    losses, converged = optimise(update, cfg.steps, CHUNK, cfg.tol, cfg.window, cfg.progress)
    return holder["state"], losses, converged


def _guide_draws(model: Any, guide: Any, params: dict, names: list[str], cfg: SVIConfig
                 ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    def one(key: Any) -> tuple[dict[str, Any], Any]:
        log_q, tr = log_density(handlers.seed(guide, key), (), {}, params)
        latents = {k: tr[k]["value"] for k in names}
        log_p, _ = log_density(model, (), {}, {**params, **latents})
        return latents, log_p - log_q

    keys = jax.random.split(jax.random.PRNGKey(cfg.seed + 1), cfg.draws)
    latents, log_w = jax.jit(jax.vmap(one))(keys)
    return {k: np.asarray(v) for k, v in latents.items()}, np.asarray(log_w)


def run(program: Any, cfg: SVIConfig) -> dict[str, Any]:
    """Fits the guide and draws from it.

    Returns:
        {"samples": name -> (draws, ...), "log_weights": (draws,), "losses": (steps,),
        "converged_at": int | None, "params": model params, "guide_params": guide params}.
    """
    model, names = program.model_fn, program.latent_names
    guide = GUIDES[cfg.guide](model, cfg)
    svi = SVI(model, guide, _optimizer(cfg), OBJECTIVES[cfg.objective](cfg))
    state, losses, converged = _train(svi, cfg)
    params = svi.get_params(state)
    samples, log_w = _guide_draws(model, guide, params, names, cfg)
    model_params = {n for n, d in program.graph.nodes(data=True) if d["role"] == "parameter"}
    return {"samples": samples, "log_weights": log_w, "losses": losses, "converged_at": converged,
            "params": {k: np.asarray(v) for k, v in params.items() if k in model_params},
            "guide_params": {k: jax.tree_util.tree_map(np.asarray, v) for k, v in params.items()
                     if k not in model_params}}
