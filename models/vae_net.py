"""A VAE as pure functions over a flat weight dict (torch or JAX).

The encoder maps x (n, d) to the mean and log-std of q(z | x) (n, k each);
the decoder maps z (..., k) to the likelihood's parameters (..., d). Written
once against an array namespace ``xp``. Encoder / decoder architectures are
registered by name in ``ARCHITECTURES`` (``"mlp"`` here, ``"conv"`` in
``models.vae_conv``), likelihoods in ``LIKELIHOODS``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from models import vae_conv
from models.couplings import softplus
from models.nets.dense import dense_apply, dense_shapes, init_dense
from models.vae_config import VAEConfig

_LOG_2PI = math.log(2 * math.pi)


def _gaussian_log_lik(x, out, params, xp):
    log_scale = params["log_scale"]
    z = (x - out) * xp.exp(-log_scale)
    return xp.sum(-0.5 * z * z - log_scale - 0.5 * _LOG_2PI, axis=-1)


def _bernoulli_log_lik(x, out, params, xp):
    # log sigmoid(l) = -softplus(-l); x log p + (1 - x) log(1 - p) = x l - softplus(l)
    return xp.sum(x * out - softplus(out, xp), axis=-1)


def _gaussian_draw(out, params, noise, xp):
    return out + xp.exp(params["log_scale"]) * noise


def _bernoulli_draw(out, params, noise, xp):
    # u < sigmoid(l)  <=>  x = 1 with probability sigmoid(l)
    return xp.astype(noise * (1.0 + xp.exp(-out)) < 1.0, out.dtype)


@dataclass(frozen=True)
class Likelihood:
    """p(x | z) given decoder outputs: log density, mean, extra weights, data check,
    and a draw x ~ p(x | z) from noise of kind ``noise`` ("normal" or "uniform")."""

    log_lik: Callable[..., Any]
    mean: Callable[..., Any]
    extra_shapes: Callable[[int], dict[str, tuple[int, ...]]]
    check_data: Callable[[np.ndarray], str | None]
    draw: Callable[..., Any]
    noise: str


LIKELIHOODS = {
    "gaussian": Likelihood(_gaussian_log_lik, lambda out, xp: out, lambda d: {"log_scale": (d,)},
                           lambda x: None, _gaussian_draw, "normal"),
    "bernoulli": Likelihood(_bernoulli_log_lik, lambda out, xp: 1.0 / (1.0 + xp.exp(-out)), lambda d: {},
                            lambda x: None if np.all((x == 0) | (x == 1)) else "Bernoulli data must be 0 or 1",
                            _bernoulli_draw, "uniform"),
}


def _mlp_sizes(config: VAEConfig) -> tuple[list[int], list[int]]:
    hidden = [config.hidden_dim] * config.num_hidden
    return [config.dim, *hidden, 2 * config.latent_dim], [config.latent_dim, *hidden, config.dim]


def _mlp_shapes(config: VAEConfig) -> dict[str, tuple[int, ...]]:
    enc, dec = _mlp_sizes(config)
    return {**dense_shapes("encoder", enc), **dense_shapes("decoder", dec)}


def _mlp_init(config: VAEConfig, seed: int) -> dict[str, np.ndarray]:
    gen = np.random.default_rng(seed)
    enc, dec = _mlp_sizes(config)
    return {**init_dense(gen, "encoder", enc), **init_dense(gen, "decoder", dec)}


@dataclass(frozen=True)
class Architecture:
    """Encoder / decoder weights and forward passes: shapes(config), init(config, seed),
    encode(params, config, x (n, d), xp) -> (n, 2k), decode(params, config, z (..., k), xp) -> (..., d),
    check(config) -> why the config does not fit, or None."""

    shapes: Callable[[VAEConfig], dict[str, tuple[int, ...]]]
    init: Callable[[VAEConfig, int], dict[str, np.ndarray]]
    encode: Callable[..., Any]
    decode: Callable[..., Any]
    check: Callable[[VAEConfig], str | None]


ARCHITECTURES = {
    "mlp": Architecture(_mlp_shapes, _mlp_init,
                        lambda p, c, x, xp: dense_apply(p, "encoder", x, c.num_hidden + 1, xp),
                        lambda p, c, z, xp: dense_apply(p, "decoder", z, c.num_hidden + 1, xp),
                        lambda c: None),
    "conv": Architecture(vae_conv.param_shapes, vae_conv.init_weights, vae_conv.encode, vae_conv.decode,
                         vae_conv.check),
}


def param_shapes(config: VAEConfig) -> dict[str, tuple[int, ...]]:
    return {**ARCHITECTURES[config.architecture].shapes(config),
            **LIKELIHOODS[config.likelihood].extra_shapes(config.dim)}


def init_weights(config: VAEConfig, seed: int) -> dict[str, np.ndarray]:
    extra = {k: np.zeros(s, np.float32) for k, s in LIKELIHOODS[config.likelihood].extra_shapes(config.dim).items()}
    return {**ARCHITECTURES[config.architecture].init(config, seed), **extra}


def encode(params: Mapping[str, Any], config: VAEConfig, x: Any, xp: Any) -> tuple[Any, Any]:
    """x (n, d) -> mean, log-std of q(z | x), each (n, k)."""
    out = ARCHITECTURES[config.architecture].encode(params, config, x, xp)
    return out[..., :config.latent_dim], out[..., config.latent_dim:]


def decode(params: Mapping[str, Any], config: VAEConfig, z: Any, xp: Any) -> Any:
    """z (..., k) -> decoder outputs (..., d) (Gaussian mean or Bernoulli logits)."""
    return ARCHITECTURES[config.architecture].decode(params, config, z, xp)


def decoder_mean(params: Mapping[str, Any], config: VAEConfig, z: Any, xp: Any) -> Any:
    """E[x | z], shape (..., d)."""
    return LIKELIHOODS[config.likelihood].mean(decode(params, config, z, xp), xp)


def decoder_draw(params: Mapping[str, Any], config: VAEConfig, z: Any, noise: Any, xp: Any) -> Any:
    """x ~ p(x | z) from ``noise`` (..., d) of the likelihood's kind; shape (..., d)."""
    return LIKELIHOODS[config.likelihood].draw(decode(params, config, z, xp), params, noise, xp)


def _std_normal(z: Any, xp: Any) -> Any:
    return xp.sum(-0.5 * z * z - 0.5 * _LOG_2PI, axis=-1)


def log_weights(params: Mapping[str, Any], config: VAEConfig, x: Any, eps: Any, xp: Any) -> Any:
    """log p(x, z_j) - log q(z_j | x) for z_j = mu + sigma eps_j; x (n, d), eps (K, n, k) -> (K, n)."""
    mu, log_std = encode(params, config, x, xp)
    z = mu + xp.exp(log_std) * eps
    log_q = _std_normal(eps, xp) - xp.sum(log_std, axis=-1)
    log_lik = LIKELIHOODS[config.likelihood].log_lik(x, decode(params, config, z, xp), params, xp)
    return log_lik + _std_normal(z, xp) - log_q


def iwae_bound(params: Mapping[str, Any], config: VAEConfig, x: Any, eps: Any, xp: Any) -> Any:
    """Importance-weighted lower bound on log p(x) with K = eps.shape[0] samples, shape (n,)."""
    log_w = log_weights(params, config, x, eps, xp)
    top = xp.max(log_w, axis=0)
    return xp.log(xp.mean(xp.exp(log_w - top), axis=0)) + top
