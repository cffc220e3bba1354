"""The thin driver of diffusion samplers: chains, progress bar, timing, NFE.

A method supplies a :class:`Kernel` of pure pieces:

* ``prepare(problem, config) -> context``: what every step reads (the problem,
  the config, an SVD as backend arrays, ...), made once per run;
* ``init(key, context, first) -> state``, with ``first`` the first
  :class:`~inference.diffusion.updates.Transition`; the state is a NamedTuple
  whose ``u`` field holds the particles (n, d);
* ``step(key, context, state, transition) -> state``;
* ``schedule(view, config) -> list[Transition]`` (default: the denoising grid);
* ``evaluations``: denoiser calls per step when ``step`` is traceable (no
  Python branching on the transition, whose fields may be 0-d arrays), else
  None. A traceable chain is compiled whole on JAX (one ``jit`` around a
  ``lax.scan`` over the steps: no host round trip per step) and the NFE is
  counted as ``evaluations`` per step; otherwise, and on torch, steps run
  one by one with float transitions.

and the driver runs them per chain and returns a Posterior via ``make_posterior``.
"""
from __future__ import annotations

import time
from typing import Any, Callable, NamedTuple

import numpy as np

from .problem import make_problem
from .result import make_posterior
from .updates import Transition, transitions


class Kernel(NamedTuple):
    prepare: Callable[[Any, Any], Any]
    init: Callable[..., Any]
    step: Callable[..., Any]
    schedule: Callable[[Any, Any], list] = lambda view, cfg: transitions(view, cfg.num_steps)
    evaluations: int | None = None


def run_chain(key: Any, problem: Any, kernel: Kernel, context: Any, moves: list, bar: Any) -> Any:
    """One chain: init at the first time, then every transition of the schedule."""
    init_key, *step_keys = problem.view.adapter.split(key, len(moves) + 1)
    state = kernel.init(init_key, context, moves[0])
    for step_key, move in zip(step_keys, moves):
        state = kernel.step(step_key, context, state, move)
        bar.update(1)
    return state


def compiled_chain(problem: Any, kernel: Kernel, context: Any, moves: list) -> Callable[[Any], Any]:
    """``key -> final state`` of one chain, its steps compiled whole (JAX; ``kernel.evaluations`` set).

    The transitions become (steps,) arrays scanned over, so the step is traced
    once and one compiled program serves every chain of the run (and later
    runs of the same structure, see ``jit_shared``). ``init`` runs eagerly:
    it may draw on the host.
    """
    adapter = problem.view.adapter
    stacked = Transition(*(adapter.asarray(np.asarray(field, dtype=np.float64)) for field in zip(*moves)))

    def steps(state: Any, step_keys: Any, trs: Transition) -> Any:
        def body(state: Any, xs: tuple[Any, Transition]) -> Any:
            return kernel.step(xs[0], context, state, Transition(*xs[1]))
        return adapter.scan(body, state, (step_keys, trs))

    compiled = adapter.jit_shared(steps)

    def run(key: Any) -> Any:
        init_key, *step_keys = adapter.split(key, len(moves) + 1)
        state = kernel.init(init_key, context, moves[0])
        problem.view.nfe += kernel.evaluations * len(moves)  # traced calls are not counted
        return compiled(state, np.stack(step_keys), stacked)

    return run


def chain_runner(problem: Any, kernel: Kernel, context: Any, moves: list, bar: Any) -> Callable[[Any], Any]:
    """``key -> final state`` of one chain: compiled whole where possible, else step by step."""
    if kernel.evaluations is not None and problem.view.adapter.compiles:
        run = compiled_chain(problem, kernel, context, moves)

        def run_and_count(key: Any) -> Any:
            state = run(key)
            bar.update(len(moves))
            return state

        return run_and_count
    return lambda key: run_chain(key, problem, kernel, context, moves, bar)


def run_kernel(program: Any, name: str, kernel: Kernel, config: Any) -> Any:
    """Runs ``config.chains`` chains of ``kernel`` and wraps the draws as a Posterior."""
    from tqdm.auto import tqdm

    problem = make_problem(program, config.dtype, config.device)
    adapter = problem.view.adapter
    keys = adapter.split(adapter.key(config.seed), config.chains)
    context, moves = kernel.prepare(problem, config), kernel.schedule(problem.view, config)
    start, draws = time.perf_counter(), []
    with tqdm(total=config.chains * len(moves), disable=not config.progress, desc=name) as bar:
        run = chain_runner(problem, kernel, context, moves, bar)
        for key in keys:
            draws.append(adapter.to_numpy(run(key).u))
    seconds = time.perf_counter() - start
    return make_posterior(problem, name, config, np.stack(draws),
                          nfe=problem.view.nfe // config.chains, seconds=seconds)


def run_batched(jobs: list[Callable[[], Any]], backend: str = "numpyro") -> list[Any]:
    """Runs ``jobs`` (e.g. one ``ppl.infer`` call per observation) with their compiled calls batched.

    On JAX the jobs run concurrently and every compiled call (a chain's scan,
    an SMC step, the final log-likelihoods) of jobs that trace to the same
    program runs as one vmapped call (``adapter_backends.run_jobs``): B
    problems of one structure cost about one problem of B times the
    particles. On torch they run one after the other.

    Returns:
        The jobs' results, in order.
    """
    if backend == "numpyro":
        from .adapter_backends import run_jobs

        return run_jobs(jobs)
    return [job() for job in jobs]
