"""JAX and torch diffusion adapters (see ``inference.diffusion.adapter``)."""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable, Sequence

from ..smc.adapter_jax import JaxAdapter
from ..smc.adapter_torch import TorchAdapter

# Compiled programs by their printed jaxpr (which names every shape, dtype and
# literal; constants are arguments), most recently used last.
_PROGRAMS: OrderedDict[str, Any] = OrderedDict()
MAX_PROGRAMS = 32


def _shared_program(closed: Any, flat_args: list[Any], device: Any) -> Any:
    """The executable of ``closed`` (a ClosedJaxpr) taking (consts, *flat_args), from the cache."""
    import jax

    jaxpr = closed.jaxpr  # not the constants: a cached program must not keep a problem alive
    program = jax.jit(lambda consts, *args: jax.core.eval_jaxpr(jaxpr, consts, *args))
    key = f"{device}\n{closed.jaxpr}"
    if " at 0x" in key:  # opaque Python objects (callbacks): the text does not pin the program
        return program
    if key not in _PROGRAMS:
        _PROGRAMS[key] = program.lower(closed.consts, *flat_args).compile()
        while len(_PROGRAMS) > MAX_PROGRAMS:
            _PROGRAMS.popitem(last=False)
    _PROGRAMS.move_to_end(key)
    return _PROGRAMS[key]


class JaxDiffusionAdapter(JaxAdapter):
    """Diffusion adapter over ``jax.numpy``."""

    compiles = True  # jit builds one program, so whole chains are worth compiling

    def __init__(self, device: str = "cpu"):
        import jax.numpy as jnp

        super().__init__(device)
        self.xp = jnp
        self.dtype = jnp.result_type(float)

    def split(self, key: Any, n: int) -> list[Any]:
        # Iterating a device array slices it op by op (seconds for a few hundred
        # keys); numpy rows are valid raw keys and come out at once.
        import jax
        import numpy as np

        return list(np.asarray(jax.random.split(key, n)))

    def value_and_grad(self, fn: Callable[[Any], tuple[Any, Any]]) -> Callable[[Any], tuple[Any, Any, Any]]:
        import jax
        import jax.numpy as jnp

        def total(u: Any) -> tuple[Any, tuple[Any, Any]]:
            value, aux = fn(u)
            return jnp.sum(value), (value, aux)

        grad_fn = jax.grad(total, has_aux=True)

        def call(u: Any) -> tuple[Any, Any, Any]:
            grad, (value, aux) = grad_fn(u)
            return value, grad, aux

        return call

    def stop_gradient(self, x: Any) -> Any:
        import jax

        return jax.lax.stop_gradient(x)

    def scan(self, body: Callable[[Any, Any], Any], carry: Any, xs: Any) -> Any:
        import jax

        return jax.lax.scan(lambda c, x: (body(c, x), None), carry, xs)[0]

    def jit_shared(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``jit`` whose executable is shared by every function tracing to the same program.

        The arrays ``fn`` closes over (a prior's parameters, an observation)
        become arguments, so a new problem of the same structure (code, shapes,
        scalar settings) reuses an earlier run's compilation, which on CPU costs
        far more than a short sampling run. Each call traces ``fn`` once per
        argument signature.
        """
        import jax
        import numpy as np

        memo: dict[Any, tuple[Any, Any, Any]] = {}

        def call(*args: Any) -> Any:
            flat, tree = jax.tree.flatten(args)
            # Shapes and dtypes without making device arrays (args may be numpy or Python scalars).
            signature = (tree, tuple((np.shape(a), str(getattr(a, "dtype", type(a).__name__))) for a in flat))
            batcher = getattr(_LOCAL, "batcher", None)
            if batcher is not None and not any(map(self.is_tracer, flat)):  # a job of run_jobs, not inside a trace
                if ("traced", signature) not in memo:
                    closed, out_shape = jax.make_jaxpr(fn, return_shape=True)(*args)
                    memo[("traced", signature)] = (closed, jax.tree.structure(out_shape), str(closed.jaxpr))
                return batcher.call(*memo[("traced", signature)], flat)
            if signature not in memo:
                closed, out_shape = jax.make_jaxpr(fn, return_shape=True)(*args)
                memo[signature] = (_shared_program(closed, flat, self.device), closed.consts,
                                   jax.tree.structure(out_shape))
            program, consts, out_tree = memo[signature]
            return jax.tree.unflatten(out_tree, program(consts, *flat))

        return call

    def jit(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``jit_shared``: the SMC samplers' chains (``particles.chain_runner``) close
        over each problem's observation, so a plain ``jax.jit`` recompiled them for
        every new y (seconds per digit on CPU, far more than the sampling)."""
        return self.jit_shared(fn)

    def is_tracer(self, x: Any) -> bool:
        import jax

        return isinstance(x, jax.core.Tracer)

    def concat(self, arrays: list[Any], axis: int = 0) -> Any:
        return self.xp.concatenate(arrays, axis=axis)


class TorchDiffusionAdapter(TorchAdapter):
    """Diffusion adapter over torch (through ``array_api_compat.torch``)."""

    compiles = False  # eager: steps run one by one

    def __init__(self, device: str = "cpu"):
        import torch
        from array_api_compat import torch as torch_xp

        super().__init__(device)
        self.xp = torch_xp
        self.dtype = torch.get_default_dtype()

    def value_and_grad(self, fn: Callable[[Any], tuple[Any, Any]]) -> Callable[[Any], tuple[Any, Any, Any]]:
        import torch

        def call(u: Any) -> tuple[Any, Any, Any]:
            with torch.enable_grad():
                u = u.detach().requires_grad_(True)
                value, aux = fn(u)
                (grad,) = torch.autograd.grad(value.sum(), u)
            detach = lambda a: a.detach() if isinstance(a, torch.Tensor) else a  # noqa: E731
            return value.detach(), grad, torch.utils._pytree.tree_map(detach, aux)

        return call

    def stop_gradient(self, x: Any) -> Any:
        return x.detach()

    def jit_shared(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return fn  # eager: nothing to compile or share

    def scan(self, body: Callable[[Any, Any], Any], carry: Any, xs: Any) -> Any:
        import torch

        leaves, spec = torch.utils._pytree.tree_flatten(xs)
        for i in range(len(leaves[0])):
            carry = body(carry, torch.utils._pytree.tree_unflatten([a[i] for a in leaves], spec))
        return carry

    def is_tracer(self, x: Any) -> bool:
        return False

    def concat(self, arrays: list[Any], axis: int = 0) -> Any:
        import torch

        return torch.cat(arrays, dim=axis)


# -- many problems at once -------------------------------------------------------------------
_LOCAL = threading.local()  # .batcher: the CallBatcher of the job running on this thread
# vmapped programs by (printed jaxpr, which constants are shared), most recently used last.
_BATCHED: OrderedDict[tuple[str, tuple[bool, ...]], Any] = OrderedDict()


class CallBatcher:
    """Runs the ``jit_shared`` calls of concurrent jobs as one vmapped call per program.

    Jobs (threads) take turns: each runs while holding ``cond`` until its next
    compiled call, where it waits; once all live jobs wait, the calls that
    trace to the same program (printed jaxpr) are stacked along a new leading
    axis and run as one ``jax.vmap``-ed program, constants the jobs share (the
    same array object: a prior's weights) passed once. B problems of one structure (one per observation) thus make one
    batch of B x particles rows per denoiser call instead of B small calls,
    and one compilation instead of B traces of a compiled program's wrapper.
    """

    def __init__(self, jobs: int):
        self.live, self.pending, self.cond = jobs, [], threading.Condition()

    def call(self, closed: Any, out_tree: Any, key: str, flat: list[Any]) -> Any:
        """``closed`` (a ClosedJaxpr printing as ``key``) on ``flat`` args, run with the other jobs' calls."""
        import jax

        entry = {"key": key, "jaxpr": closed.jaxpr, "consts": closed.consts, "args": flat}
        self.pending.append(entry)  # the job holds self.cond (see run_jobs)
        self._flush_if_ready()
        while "out" not in entry:
            self.cond.wait()  # lets the next job run up to its compiled call
        if isinstance(entry["out"], BaseException):
            raise entry["out"]
        return jax.tree.unflatten(out_tree, entry["out"])

    def done(self) -> None:
        """One job finished (or failed): the others need not wait for it any more."""
        self.live -= 1
        self._flush_if_ready()

    def _flush_if_ready(self) -> None:
        if not self.pending or len(self.pending) < self.live:
            return
        batch, self.pending, groups = self.pending, [], {}
        for entry in batch:
            groups.setdefault(entry["key"], []).append(entry)
        for group in groups.values():
            try:
                outs = _run_group(group)
            except Exception as exc:  # every job of the group sees the error
                outs = [exc] * len(group)
            for entry, out in zip(group, outs):
                entry["out"] = out
        self.cond.notify_all()


def _run_group(group: list[dict[str, Any]]) -> list[list[Any]]:
    """One vmapped call for calls of one program; each call's output leaves."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    first = group[0]
    shared = tuple(all(g["consts"][j] is c for g in group) for j, c in enumerate(first["consts"]))
    program = _batched_program(first["key"], first["jaxpr"], shared)
    pick = lambda keep: [c for c, s in zip(first["consts"], shared) if s == keep]  # noqa: E731
    stacked = [jnp.stack([g["consts"][j] for g in group]) for j, s in enumerate(shared) if not s]
    args = [jnp.stack([jnp.asarray(g["args"][j]) for g in group]) for j in range(len(first["args"]))]
    # Host views, not device arrays: one device array per job and leaf cost ~1 ms each
    # to make; the jobs' eager code and compiled calls take numpy arrays as they are.
    outs = [np.asarray(leaf) for leaf in program(pick(True), stacked, *args)]
    return [[leaf[b] for leaf in outs] for b in range(len(group))]


def _batched_program(key: str, jaxpr: Any, shared: tuple[bool, ...]) -> Any:
    """``(shared consts, stacked consts, *stacked args) -> stacked outputs``, jitted and cached."""
    import jax

    if (key, shared) not in _BATCHED:
        def one(shared_consts: list, own: list, *args: Any) -> Any:
            it_shared, it_own = iter(shared_consts), iter(own)
            consts = [next(it_shared) if s else next(it_own) for s in shared]
            return jax.core.eval_jaxpr(jaxpr, consts, *args)

        _BATCHED[(key, shared)] = jax.jit(jax.vmap(one, in_axes=(None, 0) + (0,) * len(jaxpr.invars)))
        while len(_BATCHED) > MAX_PROGRAMS:
            _BATCHED.popitem(last=False)
    _BATCHED.move_to_end((key, shared))
    return _BATCHED[(key, shared)]


def run_jobs(jobs: Sequence[Callable[[], Any]]) -> list[Any]:
    """Runs ``jobs`` on threads, their ``jit_shared`` calls batched (see :class:`CallBatcher`).

    Each job is a call such as ``ppl.infer`` on one problem; jobs of one
    structure (same method, settings and shapes, other observations) share
    every compiled call. Returns the jobs' results in order; re-raises the
    first job's error after all have finished.
    """
    batcher, results = CallBatcher(len(jobs)), [None] * len(jobs)

    def work(i: int) -> None:
        _LOCAL.batcher = batcher
        # One job runs at a time (NumPyro's handler stack is global, not per thread):
        # each holds the batcher's lock but while it waits for its compiled calls.
        with batcher.cond:
            try:
                results[i] = jobs[i]()
            except BaseException as exc:  # reported to the caller below
                results[i] = exc
            finally:
                batcher.done()

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results
