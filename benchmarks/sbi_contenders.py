"""Contenders of the sbibm benchmark: ppl's NPE / NPSE and the sbi package's.

Each runner trains on ``job.simulations`` simulations of one task, then
draws ``job.draws`` posterior samples at each sbibm observation. It returns
the draws per observation and its training seconds (simulation and sampling
excluded), so the driver can score them. Runners import their libraries
lazily: a worker process carries only its own contender's.

ppl simulates from the task's ppl model inside ``ppl.amortize``; sbi trains on
simulations of the same model that the driver drew once and saved
(``job.simulations_file``), since sbi takes (theta, x) arrays.
"""
from __future__ import annotations

import importlib.util
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .common import REPO_ROOT


@dataclass(frozen=True)
class SBIJob:
    """One measurement: a contender on a task at a simulation budget."""

    contender: str
    task: str
    simulations: int
    observations: tuple[int, ...]
    draws: int
    c2st_draws: int
    seed: int
    simulations_file: str = ""
    c2st_engine: str = "jax"


@dataclass(frozen=True)
class Outcome:
    """What a runner returns: draws per observation (draws, dim) and training seconds."""

    draws: dict[int, np.ndarray]
    training_s: float
    sampling_s: float
    info: dict


@dataclass(frozen=True)
class Contender:
    label: str
    method: str  # "npe" or "npse", for the targets table
    run: Callable[[SBIJob], Outcome]
    requires: str = ""


def load_tasks():
    """examples/sbibm_tasks.py, imported by path (examples/ is a folder of scripts)."""
    name = "examples_sbibm_tasks"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "examples" / "sbibm_tasks.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _ppl(to: str, backend: str, **options) -> Callable[[SBIJob], Outcome]:
    """ppl's amortized posterior; ``options`` override fields of the default config."""

    def run(job: SBIJob) -> Outcome:
        import dataclasses

        import ppl
        from inference.amortized.config import CONFIGS
        from ppl.check import load_reference

        task = load_tasks().TASKS[job.task]
        config = dataclasses.replace(CONFIGS[to](), **options)
        q = ppl.amortize(task.build(), observed=task.observed, params=list(task.parameters), to=to,
                         simulations=job.simulations, backend=backend, seed=job.seed, config=config)
        start, draws, acceptance = time.perf_counter(), {}, {}
        for k in job.observations:
            post = q.posterior(x=task.x_site(load_reference(job.task, k)[0]), draws=job.draws, seed=job.seed + k)
            draws[k], acceptance[k] = post.flat("theta"), post.extras["support_acceptance"]
        return Outcome(draws, q.training_seconds, time.perf_counter() - start,
                       {"epochs": q.info.get("epochs"), "simulation_s": q.info.get("simulation_seconds"),
                        "support_acceptance": acceptance})

    return run


def torch_prior(task: str):
    """The task's prior as a torch distribution (sbi needs one to build its posterior)."""
    import torch
    from sbi.utils import BoxUniform

    dims = {"two_moons": 1.0, "slcp": 3.0, "gaussian_mixture": 10.0}
    if task in dims:
        dim = load_tasks().TASKS[task].theta_dim
        return BoxUniform(-dims[task] * torch.ones(dim), dims[task] * torch.ones(dim))
    if task == "gaussian_linear":
        return torch.distributions.MultivariateNormal(torch.zeros(10), 0.1 * torch.eye(10))
    precision = torch.as_tensor(load_tasks().glm_prior_precision(), dtype=torch.float32)
    return torch.distributions.MultivariateNormal(torch.zeros(10), precision_matrix=precision)


def _sbi(method: str) -> Callable[[SBIJob], Outcome]:
    def run(job: SBIJob) -> Outcome:
        import torch
        from sbi.inference import NPE, NPSE
        from sbi.neural_nets import posterior_nn
        from torch.utils.tensorboard import SummaryWriter

        from ppl.check import load_reference

        torch.manual_seed(job.seed)
        data = np.load(job.simulations_file)
        theta = torch.as_tensor(data["theta"], dtype=torch.float32)
        x = torch.as_tensor(data["x"], dtype=torch.float32)
        prior = torch_prior(job.task)
        # sbi logs to ./sbi-logs by default: keep its tensorboard files in the run's temp folder.
        logs = SummaryWriter(str(Path(job.simulations_file).parent / f"sbi-logs-{job.contender}"))
        if method == "npe":  # sbi's defaults: MAF, 5 transforms, 50 hidden units
            trainer = NPE(prior, density_estimator=posterior_nn("maf", hidden_features=50,
                                                                num_transforms=5),
                          show_progress_bars=False, summary_writer=logs)
        else:
            trainer = NPSE(prior, show_progress_bars=False, summary_writer=logs)
        start = time.perf_counter()
        estimator = trainer.append_simulations(theta, x).train(
            training_batch_size=200, learning_rate=5e-4, validation_fraction=0.1,
            stop_after_epochs=20)
        training_s = time.perf_counter() - start
        posterior = trainer.build_posterior(estimator)
        start, draws = time.perf_counter(), {}
        for k in job.observations:
            x_obs = torch.as_tensor(load_reference(job.task, k)[0], dtype=torch.float32)
            draws[k] = posterior.sample((job.draws,), x=x_obs, show_progress_bars=False).numpy()
        epochs = trainer.summary.get("epochs_trained", [None])[-1]
        return Outcome(draws, training_s, time.perf_counter() - start, {"epochs": epochs})

    return run


CONTENDERS: dict[str, Contender] = {
    "ppl-npe": Contender("ppl NPE (numpyro)", "npe", _ppl("flow", "numpyro")),
    "ppl-npse": Contender("ppl NPSE (numpyro)", "npse", _ppl("diffusion", "numpyro")),
    "ppl-npe-pyro": Contender("ppl NPE (pyro)", "npe", _ppl("flow", "pyro")),
    "ppl-npe-transform": Contender("ppl NPE (numpyro, logit support map)", "npe",
                                   _ppl("flow", "numpyro", support="transform")),
    "sbi-npe": Contender("sbi NPE (MAF)", "npe", _sbi("npe"), requires="sbi"),
    "sbi-npse": Contender("sbi NPSE (VE)", "npse", _sbi("npse"), requires="sbi"),
}
DEFAULT_CONTENDERS = ("ppl-npe", "ppl-npse", "sbi-npe", "sbi-npse")


def simulate_to_file(task: str, simulations: int, seed: int, path: Path) -> None:
    """(theta, x) from the task's ppl model, flattened as sbi wants them, saved as .npz."""
    import ppl

    spec = load_tasks().TASKS[task]
    draws = ppl.compile(spec.build(), backend="numpyro").sample_prior(simulations, seed=seed)
    np.savez(path, theta=draws["theta"].reshape(simulations, -1),
             x=draws["x"].reshape(simulations, -1))
