"""NUTS and HMC through Pyro.

Pyro runs several chains in separate processes, which does not fit a
library call; we run chains one after another with distinct seeds. Pyro's
kernels keep per-iteration statistics only as running means, so small
subclasses record them as they go.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np
import pyro
import torch
from pyro.infer.mcmc import HMC, MCMC, NUTS

from .config import MCMCConfig


class _Recording:
    """Mixin over Pyro's HMC/NUTS that records one row of stats per iteration."""

    # Outside `sample` (step-size search) kinetic energies are not recorded.
    _first_kinetic: float | None = 0.0
    _depth = 0

    def _kinetic_energy(self, r_unscaled: Any) -> Any:
        ke = super()._kinetic_energy(r_unscaled)
        if self._first_kinetic is None:
            self._first_kinetic = float(ke)
        return ke

    def _build_tree(self, *args: Any) -> Any:
        self._depth = max(self._depth, int(args[5]) + 1)
        return super()._build_tree(*args)

    def sample(self, params: Any) -> Any:
        _, pe0, _ = self._fetch_from_cache()
        self._first_kinetic, self._depth = None, 0
        mean_before, divs_before = self._mean_accept_prob, len(self._divergences)
        z = super().sample(params)
        n = self._t - self._warmup_steps if self._t > self._warmup_steps else self._t
        # The kernel keeps only a running mean; undo one update to get this step's value.
        accept = n * self._mean_accept_prob - (n - 1) * mean_before
        _, pe1, _ = self._fetch_from_cache()
        pe0 = pe1 if pe0 is None else pe0
        # Kept outside Pyro's `_reset`, which runs again when sampling ends.
        self.__dict__.setdefault("records", []).append({
            "diverging": len(self._divergences) > divs_before,
            "acceptance_rate": float(np.clip(accept, 0.0, 1.0)),
            "step_size": float(self.step_size),
            "tree_depth": self._depth,
            "energy": float(pe0) + (self._first_kinetic or 0.0),
            "lp": -float(pe1) if pe1 is not None else np.nan,
        })
        return z


class RecordingNUTS(_Recording, NUTS):
    """Pyro's NUTS, recording per-iteration statistics."""


class RecordingHMC(_Recording, HMC):
    """Pyro's HMC, recording per-iteration statistics."""


def _kernel(kind: str, model_fn: Any, cfg: MCMCConfig) -> Any:
    if kind == "nuts":
        return RecordingNUTS(model_fn, target_accept_prob=cfg.target_accept,
                             max_tree_depth=cfg.max_tree_depth, full_mass=cfg.dense_mass)
    return RecordingHMC(model_fn, target_accept_prob=cfg.target_accept,
                        full_mass=cfg.dense_mass, num_steps=cfg.num_steps,
                        trajectory_length=cfg.trajectory_length if cfg.num_steps is None else None)


def _one_chain(kind: str, program: Any, cfg: MCMCConfig, chain: int) -> tuple[dict, dict]:
    pyro.set_rng_seed(cfg.seed + chain)
    kernel = _kernel(kind, program.model_fn, cfg)
    mcmc = MCMC(kernel, num_samples=cfg.draws, warmup_steps=cfg.warmup,
                num_chains=1, disable_progbar=not cfg.progress)
    mcmc.run()
    samples = {k: v.detach().cpu().numpy() for k, v in mcmc.get_samples().items()}
    rows = kernel.records[-cfg.draws:]
    stats = {k: np.array([r[k] for r in rows]) for k in rows[0]}
    return samples, stats


def run(kind: str, program: Any, cfg: MCMCConfig) -> tuple[dict, dict, dict]:
    """Runs ``cfg.chains`` chains one after another; arrays shaped (chain, draw, ...)."""
    start = time.perf_counter()
    per_chain = [_one_chain(kind, program, cfg, c) for c in range(cfg.chains)]
    elapsed = time.perf_counter() - start
    samples = {k: np.stack([s[k] for s, _ in per_chain]) for k in per_chain[0][0]}
    stats = {k: np.stack([st[k] for _, st in per_chain]) for k in per_chain[0][1]}
    deterministic = _deterministic(program, samples, cfg)
    return {**samples, **deterministic}, stats, {"sampling": elapsed}


def _deterministic(program: Any, samples: dict, cfg: MCMCConfig) -> dict[str, np.ndarray]:
    names = [n for n, d in program.graph.nodes(data=True) if d["role"] == "deterministic"]
    if not names:
        return {}
    flat = {k: v.reshape((-1,) + v.shape[2:]) for k, v in samples.items()}
    with torch.no_grad():
        draws = program.sample_predictive(flat, seed=cfg.seed)
    return {k: draws[k].reshape((cfg.chains, cfg.draws) + draws[k].shape[1:]) for k in names}
