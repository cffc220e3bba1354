"""The sbibm benchmark tasks written as ppl models, and NPE on one of them.

Five tasks of sbibm (Lueckmann et al., 2021), each with its prior and
simulator as sbibm defines them (``sbibm/tasks/<task>/task.py`` of sbibm
1.1.0): two_moons, gaussian_linear, slcp, bernoulli_glm (with its summary
statistics) and gaussian_mixture. The parameters are the site ``theta``
(shape (dim,)) and the data the site ``x``; simulator noise the likelihood
cannot be written for (two moons' angle and radius, the mixture component,
the GLM's spikes) is a latent site that ``ppl.amortize(..., params="theta")``
marginalises.

Run::

    PYTHONPATH=. python examples/sbibm_tasks.py --task two_moons --simulations 10000
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

import ppl
from ppl import dist, ops


@ppl.model
def two_moons():
    theta = ppl.sample("theta", dist.Uniform(-1.0, 1.0).expand((2,)).to_event(1))
    angle = ppl.sample("angle", dist.Uniform(-np.pi / 2, np.pi / 2))
    radius = ppl.sample("radius", dist.Normal(0.1, 0.01))
    # sbibm rotates theta by -pi/4 and folds the first coordinate: two crescents.
    z0 = np.sqrt(0.5) * (theta[0] + theta[1])
    z1 = np.sqrt(0.5) * (theta[1] - theta[0])
    ppl.deterministic("x", ops.stack([ops.cos(angle) * radius + 0.25 - ops.abs(z0),
                                      ops.sin(angle) * radius + z1]))


@ppl.model
def gaussian_linear(dim=10):
    # sbibm passes scale 0.1 as a precision^-1, i.e. a variance of 0.1.
    theta = ppl.sample("theta", dist.Normal(0.0, np.sqrt(0.1)).expand((dim,)).to_event(1))
    ppl.sample("x", dist.Normal(theta, np.sqrt(0.1)).to_event(1))


@ppl.model
def slcp(num_points=4):
    theta = ppl.sample("theta", dist.Uniform(-3.0, 3.0).expand((5,)).to_event(1))
    s1, s2, rho = theta[2] ** 2, theta[3] ** 2, ops.tanh(theta[4])
    cross = rho * s1 * s2
    cov = ops.stack([ops.stack([s1 ** 2 + 1e-6, cross]), ops.stack([cross, s2 ** 2 + 1e-6])])
    loc = ops.stack([theta[0], theta[1]])
    ppl.sample("x", dist.MultivariateNormal(loc, covariance_matrix=cov).expand((num_points,)))


def glm_design(num_bins: int = 100, num_filter: int = 9) -> np.ndarray:
    """sbibm's Bernoulli GLM design: an offset column and 9 lags of a white-noise stimulus.

    Returns:
        (num_bins, 1 + num_filter); the stimulus is ``RandomState(42).randn``
        in float32, as sbibm saved it.
    """
    stimulus = np.random.RandomState(42).randn(num_bins).astype(np.float32).astype(np.float64)
    design = np.zeros((num_bins, num_filter + 1))
    design[:, 0] = 1.0
    for lag in range(num_filter):
        design[lag:, lag + 1] = stimulus[: num_bins - lag]
    return design


def glm_prior_precision(num_filter: int = 9) -> np.ndarray:
    """sbibm's smoothness prior on the filter (second differences) and 0.5 on the offset."""
    diff = np.eye(num_filter) - np.eye(num_filter, k=-1)
    f = diff @ diff + np.diag(np.sqrt(np.arange(num_filter) / num_filter))
    precision = np.zeros((num_filter + 1, num_filter + 1))
    precision[0, 0] = 0.5
    precision[1:, 1:] = f.T @ f
    return precision


@ppl.model
def bernoulli_glm(design):
    theta = ppl.sample("theta", dist.MultivariateNormal(np.zeros(design.shape[1]),
                                                        precision_matrix=glm_prior_precision()))
    with ppl.plate("bins", design.shape[0]):
        spikes = ppl.sample("spikes", dist.Bernoulli(logits=design @ theta))
    # sbibm's summary (spike count, then the spike-triggered average over 9 lags) is design' y.
    ppl.deterministic("x", design.T @ spikes)


@ppl.model
def gaussian_mixture():
    theta = ppl.sample("theta", dist.Uniform(-10.0, 10.0).expand((2,)).to_event(1))
    narrow = ppl.sample("component", dist.Bernoulli(0.5))
    ppl.sample("x", dist.Normal(theta, 1.0 - 0.9 * narrow).to_event(1))


@dataclass(frozen=True)
class Task:
    """One sbibm task as a ppl model.

    Attributes:
        name: sbibm's task name.
        build: returns the (unobserved) ``ppl.Model``.
        theta_dim: number of parameters (the site ``theta`` has shape (theta_dim,)).
        x_shape: shape of the site ``x``; sbibm's observation is it flattened.
        sbibm_npe_c2st: sbibm's published NPE C2ST at 10^4 simulations.
        parameters: the sites the posterior targets.
        observed: the data site.
    """

    name: str
    build: Callable[[], ppl.Model]
    theta_dim: int
    x_shape: tuple[int, ...]
    sbibm_npe_c2st: float
    parameters: tuple[str, ...] = ("theta",)
    observed: str = "x"

    def x_site(self, x_obs: np.ndarray) -> np.ndarray:
        """An sbibm observation (flat) as a value of the site ``x``."""
        return np.asarray(x_obs, dtype=float).reshape(self.x_shape)


TASKS: dict[str, Task] = {task.name: task for task in (
    Task("two_moons", two_moons, 2, (2,), 0.606),
    Task("gaussian_linear", gaussian_linear, 10, (10,), 0.552),
    Task("slcp", slcp, 5, (4, 2), 0.901),
    Task("bernoulli_glm", lambda: bernoulli_glm(glm_design()), 10, (10,), 0.678),
    Task("gaussian_mixture", gaussian_mixture, 2, (2,), 0.615),
)}


def run_npe(task: Task, x_obs: np.ndarray, simulations: int, to: str = "flow",
            backend: str = "numpyro", draws: int = 10_000, seed: int = 0) -> tuple[np.ndarray, float]:
    """Trains an amortized posterior on a task and draws from it at one observation.

    Returns:
        (draws of theta (draws, theta_dim), training seconds).
    """
    q = ppl.amortize(task.build(), observed=task.observed, params=list(task.parameters), to=to,
                     simulations=simulations, backend=backend, seed=seed)
    post = q.posterior(x=task.x_site(x_obs), draws=draws, seed=seed)
    return post.flat("theta"), float(q.training_seconds)


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="NPE / NPSE on an sbibm task, scored by C2ST.")
    parser.add_argument("--task", choices=sorted(TASKS), default="two_moons")
    parser.add_argument("--simulations", type=int, default=10_000)
    parser.add_argument("--to", choices=("flow", "diffusion"), default="flow")
    parser.add_argument("--backend", choices=("numpyro", "pyro"), default="numpyro")
    parser.add_argument("--observation", type=int, default=1, help="sbibm observation 1-10")
    parser.add_argument("--draws", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    task = TASKS[args.task]
    x_obs, reference = ppl.check.load_reference(task.name, args.observation)
    draws, seconds = run_npe(task, x_obs, args.simulations, args.to, args.backend,
                             args.draws, args.seed)
    score = ppl.check.c2st(reference, draws, seed=args.seed)
    print(f"{task.name} obs {args.observation}: {args.to} on {args.backend}, "
          f"{args.simulations} simulations, {seconds:.1f} s training: C2ST {score:.3f} "
          f"(sbibm NPE at 10^4: {task.sbibm_npe_c2st})")
    return {"task": task.name, "c2st": score, "training_seconds": seconds, "draws": draws}


if __name__ == "__main__":
    main(sys.argv[1:])
