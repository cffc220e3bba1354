"""MCMC methods: NUTS and HMC on NumPyro and Pyro, registered as "nuts" and "hmc"."""
from __future__ import annotations

import importlib
import time
from functools import partial
from typing import Any

from ..posterior import Posterior
from ..registry import Capabilities, MethodSpec, register
from .config import MCMCConfig

# backend -> module with `run(kind, program, config)`; imported on first use.
BACKEND_RUNNERS = {"numpyro": "inference.mcmc.numpyro_mcmc", "pyro": "inference.mcmc.pyro_mcmc"}


def run_mcmc(kind: str, program: Any, config: MCMCConfig) -> Posterior:
    """Runs NUTS or HMC on a compiled program and wraps the result."""
    runner = importlib.import_module(BACKEND_RUNNERS[program.backend_name])
    start = time.perf_counter()
    samples, stats, timings = runner.run(kind, program, config)
    timings["total"] = time.perf_counter() - start
    return Posterior(samples=samples, sample_stats=stats, method=kind,
                     backend=program.backend_name, config=config, timings=timings,
                     program=program)


register(MethodSpec("nuts", partial(run_mcmc, "nuts"), MCMCConfig, Capabilities(),
                    "No-U-Turn sampler; all latents are continuous, so gradients exist"),
         auto_rank=0)
register(MethodSpec("hmc", partial(run_mcmc, "hmc"), MCMCConfig, Capabilities(),
                    "Hamiltonian Monte Carlo with a fixed trajectory length"))
