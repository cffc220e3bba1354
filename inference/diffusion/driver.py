"""The thin driver of diffusion samplers: chains, progress bar, timing, NFE.

A method supplies a :class:`Kernel` of pure pieces:

* ``prepare(problem, config) -> context``: what every step reads (the problem,
  the config, an SVD as backend arrays, ...), made once per run;
* ``init(key, context, first) -> state``, with ``first`` the first
  :class:`~inference.diffusion.updates.Transition`; the state is a NamedTuple
  whose ``u`` field holds the particles (n, d);
* ``step(key, context, state, transition) -> state``;
* ``schedule(view, config) -> list[Transition]`` (default: the denoising grid);

and the driver runs them per chain and returns a Posterior via ``make_posterior``.
"""
from __future__ import annotations

import time
from typing import Any, Callable, NamedTuple

import numpy as np

from .problem import make_problem
from .result import make_posterior
from .updates import transitions


class Kernel(NamedTuple):
    prepare: Callable[[Any, Any], Any]
    init: Callable[..., Any]
    step: Callable[..., Any]
    schedule: Callable[[Any, Any], list] = lambda view, cfg: transitions(view, cfg.num_steps)


def run_chain(key: Any, problem: Any, kernel: Kernel, context: Any, moves: list, bar: Any) -> Any:
    """One chain: init at the first time, then every transition of the schedule."""
    init_key, *step_keys = problem.view.adapter.split(key, len(moves) + 1)
    state = kernel.init(init_key, context, moves[0])
    for step_key, move in zip(step_keys, moves):
        state = kernel.step(step_key, context, state, move)
        bar.update(1)
    return state


def run_kernel(program: Any, name: str, kernel: Kernel, config: Any) -> Any:
    """Runs ``config.chains`` chains of ``kernel`` and wraps the draws as a Posterior."""
    from tqdm.auto import tqdm

    problem = make_problem(program, config.dtype, config.device)
    adapter = problem.view.adapter
    keys = adapter.split(adapter.key(config.seed), config.chains)
    context, moves = kernel.prepare(problem, config), kernel.schedule(problem.view, config)
    start, draws = time.perf_counter(), []
    with tqdm(total=config.chains * len(moves), disable=not config.progress, desc=name) as bar:
        for key in keys:
            draws.append(adapter.to_numpy(run_chain(key, problem, kernel, context, moves, bar).u))
    seconds = time.perf_counter() - start
    return make_posterior(problem, name, config, np.stack(draws),
                          nfe=problem.view.nfe // config.chains, seconds=seconds)
