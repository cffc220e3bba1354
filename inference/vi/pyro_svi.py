"""SVI through Pyro: autoguides, Trace/Renyi ELBO, torch Adam with a LambdaLR schedule.

Pyro keeps parameters in a global store; each run works inside its own
``param_store.scope()`` and its own forked RNG, so nothing leaks out.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pyro
import torch
from pyro import poutine
from pyro.infer import SVI, RenyiELBO, Trace_ELBO, autoguide
from pyro.optim import LambdaLR

from ..smc.target_torch import batched
from .config import SVIConfig
from .convergence import optimise, schedule_factor

CHUNK = 50  # steps between convergence checks and progress updates

GUIDES = {
    "normal": lambda model, cfg: autoguide.AutoNormal(model),
    "mvn": lambda model, cfg: autoguide.AutoMultivariateNormal(model),
    # rank None: Pyro's default, about sqrt of the latent dimension.
    "lowrank": lambda model, cfg: autoguide.AutoLowRankMultivariateNormal(model, rank=cfg.rank),
    "flow": lambda model, cfg: autoguide.AutoIAFNormal(model, num_transforms=cfg.num_flows),
}
OBJECTIVES = {
    "elbo": lambda cfg: Trace_ELBO(num_particles=cfg.num_particles),
    "iwelbo": lambda cfg: RenyiELBO(alpha=0.0, num_particles=cfg.num_particles),
}


def _scheduler(cfg: SVIConfig) -> LambdaLR:
    return LambdaLR({"optimizer": torch.optim.Adam, "optim_args": {"lr": cfg.learning_rate},
                     "lr_lambda": schedule_factor(cfg.schedule, cfg.steps)})


def _train(svi: SVI, scheduler: LambdaLR, cfg: SVIConfig) -> tuple[np.ndarray, int | None]:
    def update(n: int) -> np.ndarray:
        losses = []
        for _ in range(n):
            losses.append(svi.step())
            scheduler.step()
        return np.array(losses)

    return optimise(update, cfg.steps, CHUNK, cfg.tol, cfg.window, cfg.progress)


def _guide_draws(model: Any, guide: Any, names: list[str], cfg: SVIConfig
                 ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    def one(_: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        guide_tr = poutine.trace(guide).get_trace()
        model_tr = poutine.trace(poutine.replay(model, trace=guide_tr)).get_trace()
        log_w = model_tr.log_prob_sum() - guide_tr.log_prob_sum()
        return {k: model_tr.nodes[k]["value"] for k in names}, log_w

    with torch.no_grad():
        latents, log_w = batched(one, randomness="different")(torch.arange(cfg.draws))
    return ({k: v.detach().cpu().numpy() for k, v in latents.items()},
            log_w.detach().cpu().numpy())


def _params(store: Any, model_params: set[str]) -> tuple[dict, dict]:
    values = {k: store[k].detach().cpu().numpy() for k in store.keys()}
    return ({k: v for k, v in values.items() if k in model_params},
            {k: v for k, v in values.items() if k not in model_params})


def run(program: Any, cfg: SVIConfig) -> dict[str, Any]:
    """Fits the guide and draws from it; same contract as ``numpyro_svi.run``."""
    model, names = program.model_fn, program.latent_names
    store = pyro.get_param_store()
    devices = [torch.device(cfg.device)] if cfg.device == "cuda" else []
    with store.scope(), torch.random.fork_rng(devices=devices):
        torch.manual_seed(cfg.seed)
        guide = GUIDES[cfg.guide](model, cfg)
        scheduler = _scheduler(cfg)
        svi = SVI(model, guide, scheduler, OBJECTIVES[cfg.objective](cfg))
        losses, converged = _train(svi, scheduler, cfg)
        samples, log_w = _guide_draws(model, guide, names, cfg)
        model_params = {n for n, d in program.graph.nodes(data=True) if d["role"] == "parameter"}
        params, guide_params = _params(store, model_params)
    return {"samples": samples, "log_weights": log_w, "losses": losses, "converged_at": converged,
            "params": params, "guide_params": guide_params}
