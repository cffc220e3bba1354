"""Batched targets for NumPyro programs: per-particle densities by ``jax.vmap``."""
from __future__ import annotations

from functools import partial
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from numpyro import handlers
from numpyro.infer.util import _unconstrain_reparam, compute_log_probs, constrain_fn, unconstrain_fn

from .target import Target, likelihood_names, make_layout


def _split(log_probs: dict[str, Any], lik_names: frozenset[str]) -> tuple[Any, Any]:
    lik = sum((v for k, v in log_probs.items() if k in lik_names), start=jnp.zeros(()))
    prior = sum((v for k, v in log_probs.items() if k not in lik_names), start=jnp.zeros(()))
    return prior, lik


def _draw_fn(program: Any) -> Callable[[Any, int], dict[str, Any]]:
    """(seed as an array, n) -> site name -> constrained prior draws (n, *shape), traceable."""
    names = program.latent_names

    def draw_one(key: Any) -> dict[str, Any]:
        tr = handlers.trace(handlers.seed(program.model_fn, key)).get_trace()
        return {k: tr[k]["value"] for k in names}

    return lambda seed, n: jax.vmap(draw_one)(jax.random.split(jax.random.PRNGKey(seed), n))


def make_prior_draws(program: Any) -> Callable[[int, int], dict[str, Any]]:
    """(seed, n) -> site name -> constrained prior draws (n, *shape) of every latent."""
    # Seeding and splitting inside the one jitted function: one compile, not three.
    draw = jax.jit(_draw_fn(program), static_argnums=1)
    return lambda seed, n: draw(np.uint32(seed % 2 ** 32), n)


def make_log_lik(program: Any) -> Callable[[dict[str, Any]], Any]:
    """Site name -> constrained values (N, ...) -> log-likelihood (N,); discrete latents too."""
    model, lik_names = program.model_fn, likelihood_names(program)
    lik = jax.jit(jax.vmap(lambda x: _split(compute_log_probs(model, (), {}, x)[0], lik_names)[1]))
    return lambda x: lik({k: jnp.asarray(v) for k, v in x.items()})


def _unconstrained_shapes(program: Any) -> dict[str, tuple[int, ...]]:
    """By abstract evaluation: running the model eagerly would compile every primitive."""
    def one(seed: Any) -> dict[str, Any]:
        x = {k: v[0] for k, v in _draw_fn(program)(seed, 1).items()}
        return unconstrain_fn(program.model_fn, (), {}, x)

    return {k: tuple(v.shape) for k, v in jax.eval_shape(one, np.uint32(0)).items()}


def make_target(program: Any) -> Target:
    """The :class:`Target` of a NumPyro program; all functions are jitted and vmapped."""
    model, lik_names = program.model_fn, likelihood_names(program)
    layout = make_layout(program, _unconstrained_shapes(program))

    def parts(flat: Any) -> tuple[Any, Any]:
        # Numpyro's own reparam adds each log-Jacobian as a factor "_{site}_log_det".
        u = layout.unflatten(flat)
        sub = handlers.substitute(model, substitute_fn=partial(_unconstrain_reparam, u))
        return _split(compute_log_probs(sub, (), {}, {})[0], lik_names)

    def parts_and_grads(flat: Any) -> tuple[Any, Any, Any, Any]:
        jac = jax.jacrev(lambda v: jnp.stack(parts(v)))(flat)
        prior, lik = parts(flat)
        return prior, lik, jac[0], jac[1]

    draw = _draw_fn(program)

    def unconstrain_one(x: dict[str, Any]) -> Any:
        u = unconstrain_fn(model, (), {}, x)
        return jnp.concatenate([jnp.reshape(u[k], -1) for k in layout.names])

    prior = jax.jit(lambda seed, n: jax.vmap(unconstrain_one)(draw(seed, n)), static_argnums=1)

    to_constrained = jax.jit(jax.vmap(
        lambda flat: constrain_fn(model, (), {}, layout.unflatten(flat))))
    return Target(
        layout=layout,
        log_parts=jax.jit(jax.vmap(parts)),
        log_parts_and_grads=jax.jit(jax.vmap(parts_and_grads)),
        sample_prior=lambda seed, n: prior(np.uint32(seed % 2 ** 32), n),
        to_constrained=lambda flat: {k: np.asarray(v) for k, v in to_constrained(flat).items()
                                     if k in layout.names},
        log_lik_constrained=make_log_lik(program),
    )
