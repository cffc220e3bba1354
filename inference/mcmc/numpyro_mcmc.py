"""NUTS and HMC through NumPyro; chains run vectorized by default."""
from __future__ import annotations

import time
from typing import Any

import jax
import numpy as np
from numpyro.infer import HMC, MCMC, NUTS

from .config import MCMCConfig

_EXTRA = ("diverging", "accept_prob", "num_steps", "energy", "potential_energy",
          "adapt_state.step_size")


def _kernel(kind: str, model_fn: Any, cfg: MCMCConfig) -> Any:
    if kind == "nuts":
        return NUTS(model_fn, target_accept_prob=cfg.target_accept,
                    max_tree_depth=cfg.max_tree_depth, dense_mass=cfg.dense_mass)
    return HMC(model_fn, target_accept_prob=cfg.target_accept, dense_mass=cfg.dense_mass,
               num_steps=cfg.num_steps, trajectory_length=cfg.trajectory_length)


def run(kind: str, program: Any, cfg: MCMCConfig) -> tuple[dict, dict, dict]:
    """Runs the sampler.

    Returns:
        (samples, sample_stats, timings); arrays shaped (chain, draw, ...).
    """
    mcmc = MCMC(_kernel(kind, program.model_fn, cfg), num_warmup=cfg.warmup,
                num_samples=cfg.draws, num_chains=cfg.chains, chain_method=cfg.chain_method,
                progress_bar=cfg.progress)
    start = time.perf_counter()
    mcmc.run(jax.random.PRNGKey(cfg.seed), extra_fields=_EXTRA)
    samples = jax.block_until_ready(mcmc.get_samples(group_by_chain=True))
    elapsed = time.perf_counter() - start
    extra = mcmc.get_extra_fields(group_by_chain=True)
    num_steps = np.asarray(extra["num_steps"])
    stats = {
        "diverging": np.asarray(extra["diverging"]).astype(bool),
        "acceptance_rate": np.asarray(extra["accept_prob"]),
        "step_size": np.asarray(extra["adapt_state.step_size"]),
        "n_steps": num_steps,
        "tree_depth": np.ceil(np.log2(num_steps + 1)).astype(int),
        "energy": np.asarray(extra["energy"]),
        "lp": -np.asarray(extra["potential_energy"]),
    }
    keep = set(program.latent_names) | _deterministic_names(program)
    return ({k: np.asarray(v) for k, v in samples.items() if k in keep}, stats,
            {"sampling": elapsed})


def _deterministic_names(program: Any) -> set[str]:
    return {n for n, d in program.graph.nodes(data=True) if d["role"] == "deterministic"}
