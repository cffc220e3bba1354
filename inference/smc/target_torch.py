"""Batched targets for Pyro programs: per-particle densities by ``torch.func.vmap``.

A Pyro model cannot take a particle batch dim directly (user expressions such
as ``x @ w`` would mis-broadcast), but ``torch.func.vmap`` runs the model once
on batched tensors that look unbatched to the model. Distribution argument
validation branches on tensor values, which vmap forbids, so it is switched
off inside. Models vmap cannot run (e.g. a numeric function that leaves
torch) fall back to a Python loop over particles, noted on the result.

Prior draws run under vmap too: torch samplers fill fresh tensors in place
(``torch.empty(shape).normal_()``), which vmap refuses to randomise per
particle, so :class:`OutOfPlaceRandom` swaps those fills for out-of-place
draws with the same distribution while the draws run.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pyro
import torch
from pyro import poutine
from pyro.distributions.transforms import biject_to
from pyro.poutine.messenger import Messenger

from .target import Target, likelihood_names, make_layout
from .torch_random import OutOfPlaceRandom


class _Unconstrained(Messenger):
    """Sets latent sites from unconstrained values and records the log-Jacobians."""

    def __init__(self, u: dict[str, torch.Tensor]):
        super().__init__()
        self.u, self.log_det = u, torch.zeros(())

    def _pyro_sample(self, msg: dict) -> None:
        if msg["name"] not in self.u or msg["is_observed"]:
            return
        t = biject_to(msg["fn"].support)
        u = self.u[msg["name"]]
        msg["value"] = t(u)
        self.log_det = self.log_det + t.log_abs_det_jacobian(u, msg["value"]).sum()


def _split(tr: Any, lik_names: frozenset[str]) -> tuple[torch.Tensor, torch.Tensor]:
    prior, lik = torch.zeros(()), torch.zeros(())
    for name, node in tr.nodes.items():
        if node["type"] != "sample":
            continue
        lp = node["fn"].log_prob(node["value"]).sum()
        if name in lik_names:
            lik = lik + lp
        else:
            prior = prior + lp
    return prior, lik


def batched(fn: Callable[..., Any], randomness: str = "error",
            out_of_place: bool = False) -> Callable[..., Any]:
    """vmap over the leading dim of every argument; a loop if vmap cannot run the model.

    ``out_of_place``: run under :class:`OutOfPlaceRandom`, so torch samplers can draw.
    """
    vmapped = torch.func.vmap(fn, randomness=randomness)

    def loop(*args: Any) -> Any:
        n = len(torch.utils._pytree.tree_leaves(args)[0])
        rows = [fn(*torch.utils._pytree.tree_map(lambda a: a[i], args)) for i in range(n)]
        return torch.utils._pytree.tree_map(lambda *r: torch.stack(r), *rows)

    def call(*args: Any) -> Any:
        with pyro.validation_enabled(False):
            if not call.use_loop:
                try:
                    if not out_of_place:
                        return vmapped(*args)
                    with OutOfPlaceRandom():
                        return vmapped(*args)
                except Exception:  # noqa: BLE001 - any vmap failure: run the plain loop
                    call.use_loop = True
            return loop(*args)

    call.use_loop = False
    return call


def make_prior_draws(program: Any) -> Callable[[int, int], dict[str, torch.Tensor]]:
    """(seed, n) -> site name -> constrained prior draws (n, *shape) of every latent."""
    names = program.latent_names

    def one(_: torch.Tensor) -> dict[str, torch.Tensor]:
        tr = poutine.trace(program.model_fn).get_trace()
        return {k: tr.nodes[k]["value"] for k in names}

    draw = batched(one, randomness="different", out_of_place=True)

    def draws(seed: int, n: int) -> dict[str, torch.Tensor]:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(seed)
            return draw(torch.arange(n))

    return draws


def make_log_lik(program: Any) -> Callable[[dict[str, Any]], torch.Tensor]:
    """Site name -> constrained values (N, ...) -> log-likelihood (N,); discrete latents too."""
    model, lik_names = program.model_fn, likelihood_names(program)
    lik = batched(lambda x: _split(poutine.trace(poutine.condition(model, data=x)).get_trace(),
                                   lik_names)[1])
    return lambda x: lik({k: program.backend.asarray(v) for k, v in x.items()})


def make_target(program: Any) -> Target:
    """The :class:`Target` of a Pyro program."""
    model, layout, lik_names = program.model_fn, make_layout(program), likelihood_names(program)

    def parts(flat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        handler = _Unconstrained(layout.unflatten(flat))
        with handler:
            tr = poutine.trace(model).get_trace()
        prior, lik = _split(tr, lik_names)
        return prior + handler.log_det, lik

    def parts_and_grads(flat: torch.Tensor) -> tuple[torch.Tensor, ...]:
        jac, (prior, lik) = torch.func.jacrev(
            lambda v: (torch.stack(parts(v)), parts(v)), has_aux=True)(flat)
        return prior, lik, jac[0], jac[1]

    def unconstrain(x: dict[str, torch.Tensor]) -> torch.Tensor:
        tr = poutine.trace(poutine.condition(model, data=x)).get_trace()
        return torch.cat([biject_to(tr.nodes[k]["fn"].support).inv(x[k]).reshape(-1)
                          for k in layout.names])

    def constrain(flat: torch.Tensor) -> dict[str, torch.Tensor]:
        with _Unconstrained(layout.unflatten(flat)):
            tr = poutine.trace(model).get_trace()
        return {k: tr.nodes[k]["value"] for k in layout.names}

    batched_parts, batched_grads = batched(parts), batched(parts_and_grads)
    batched_unconstrain, batched_constrain = batched(unconstrain), batched(constrain)
    prior_draws = make_prior_draws(program)

    def sample_prior(seed: int, n: int) -> torch.Tensor:
        return batched_unconstrain(prior_draws(seed, n))

    def to_constrained(flat: torch.Tensor) -> dict[str, np.ndarray]:
        return {k: v.detach().cpu().numpy() for k, v in batched_constrain(flat).items()}

    return Target(
        layout=layout,
        log_parts=batched_parts,
        log_parts_and_grads=batched_grads,
        sample_prior=sample_prior,
        to_constrained=to_constrained,
        log_lik_constrained=make_log_lik(program),
    )
