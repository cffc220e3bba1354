"""JAX and torch diffusion adapters (see ``inference.diffusion.adapter``)."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable

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

        memo: dict[Any, tuple[Any, Any, Any]] = {}

        def call(*args: Any) -> Any:
            flat, tree = jax.tree.flatten(args)
            signature = (tree, tuple((a.shape, str(a.dtype)) for a in map(self.xp.asarray, flat)))
            if signature not in memo:
                closed, out_shape = jax.make_jaxpr(fn, return_shape=True)(*args)
                memo[signature] = (_shared_program(closed, flat, self.device), closed.consts,
                                   jax.tree.structure(out_shape))
            program, consts, out_tree = memo[signature]
            return jax.tree.unflatten(out_tree, program(consts, *flat))

        return call

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
