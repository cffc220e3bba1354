"""Public testing helpers: a zoo of models and cross-backend checks.

Used by ppl's own tests and meant for anyone extending the language: a new
distribution or op is covered once it appears in a zoo model, because every
zoo model must give the same log density on every backend.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from . import dist, ops
from .compiler import compile
from .markov import markov
from .model import Model, model
from .primitives import deterministic, factor, plate, sample


@model
def eight_schools_noncentered(sigma):
    mu = sample("mu", dist.Normal(0.0, 5.0))
    tau = sample("tau", dist.HalfCauchy(5.0))
    with plate("school", len(sigma)):
        eta = sample("eta", dist.Normal(0.0, 1.0))
        theta = deterministic("theta", mu + tau * eta)
        sample("y", dist.Normal(theta, sigma))


@model
def logistic_regression(x):
    alpha = sample("alpha", dist.StudentT(3.0, 0.0, 2.5))
    beta = sample("beta", dist.Laplace(0.0, 1.0).expand((x.shape[1],)).to_event(1))
    with plate("obs", x.shape[0]):
        sample("y", dist.Bernoulli(logits=x @ beta + alpha))


@model
def hierarchical_poisson(exposure, group, num_groups):
    mu = sample("mu", dist.Normal(0.0, 1.0))
    sd = sample("sd", dist.Exponential(1.0))
    with plate("group", num_groups):
        z = sample("z", dist.Normal(0.0, 1.0))
    rate = ops.exp(mu + sd * z[group]) * exposure
    with plate("obs", len(exposure)):
        sample("count", dist.Poisson(rate))


@model
def correlated_effects(num_obs, dim):
    chol = sample("chol", dist.LKJCholesky(dim, 2.0))
    scales = sample("scales", dist.HalfNormal(1.0).expand((dim,)).to_event(1))
    loc = sample("loc", dist.MultivariateNormal(np.zeros(dim), scale_tril=np.eye(dim)))
    scale_tril = scales[:, None] * chol
    with plate("obs", num_obs):
        sample("x", dist.MultivariateNormal(loc, scale_tril=scale_tril))


@model
def mixture_weights(y):
    weights = sample("weights", dist.Dirichlet(np.ones(3)))
    locs = sample("locs", dist.Normal(np.array([-2.0, 0.0, 2.0]), 1.0).to_event(1))
    scale = sample("scale", dist.InverseGamma(3.0, 2.0))
    log_mix = ops.log(weights) + dist_normal_logpdf(y[:, None], locs, scale)
    factor("mixture", ops.sum(ops.logsumexp(log_mix, axis=-1)))


def dist_normal_logpdf(x, loc, scale):
    """Normal log density written with ops (used inside a factor)."""
    return -0.5 * ((x - loc) / scale) ** 2 - ops.log(scale) - 0.5 * np.log(2 * np.pi)


@model
def positive_families(n):
    a = sample("a", dist.Gamma(2.0, 1.0))
    b = sample("b", dist.Uniform(0.5, 3.0))
    p = sample("p", dist.Beta(2.0, 2.0))
    s = sample("s", dist.LogNormal(0.0, 0.5))
    c = sample("c", dist.Cauchy(0.0, 1.0).truncate(low=-1.0, high=4.0))
    sample("y_gamma", dist.Gamma(a, b).expand((n,)))
    sample("y_beta", dist.Beta(a, b).expand((n,)))
    sample("y_lognormal", dist.LogNormal(c, s).expand((n,)))
    sample("y_counts", dist.NegativeBinomial(ops.softplus(a) + 1.0, probs=p * 0.9)
           .expand((n,)))
    sample("y_binom", dist.Binomial(10, logits=ops.logit(p)).expand((4,)),
           obs=np.array([3.0, 5.0, 7.0, 2.0]))
    sample("y_cat", dist.Categorical(logits=ops.stack([a, b, c])).expand((3,)),
           obs=np.array([0, 2, 1]))
    sample("y_trunc", dist.Normal(c, 1.0).truncate(low=0.0).expand((2,)),
           obs=np.array([0.5, 1.5]))


def zoo(seed: int = 0) -> dict[str, Model]:
    """Observed zoo models with synthetic data (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    sigma = np.array([15.0, 10, 16, 11, 9, 11, 10, 18])
    y8 = np.array([28.0, 8, -3, 7, -1, 1, 18, 12])
    x = rng.normal(size=(40, 3))
    group = rng.integers(0, 4, size=30)
    return {
        "eight_schools": eight_schools_noncentered(sigma).observe(y=y8),
        "logistic_regression": logistic_regression(x).observe(
            y=(rng.random(40) < 0.5).astype(float)),
        "hierarchical_poisson": hierarchical_poisson(
            rng.uniform(0.5, 2.0, size=30), group, 4).observe(count=rng.poisson(2.0, size=30)),
        "correlated_effects": correlated_effects(10, 3).observe(
            x=rng.normal(size=(10, 3))),
        "mixture_weights": mixture_weights(rng.normal(size=25) * 2),
        "positive_families": positive_families(5).observe(
            y_gamma=rng.gamma(2.0, size=5), y_beta=rng.beta(2.0, 3.0, size=5),
            y_lognormal=rng.lognormal(size=5), y_counts=rng.poisson(3.0, size=5)),
    }


def random_unconstrained_point(m: Model, seed: int = 0, scale: float = 0.7) -> dict[str, np.ndarray]:
    """A random point in the unconstrained space of a model's latents."""
    rng = np.random.default_rng(seed)
    shapes = compile(m, backend="numpyro").unconstrained_shapes()
    return {k: scale * rng.normal(size=s) for k, s in shapes.items()}


def backend_log_densities(m: Model, point: dict[str, np.ndarray],
                          backends: tuple[str, ...] = ("numpyro", "pyro")) -> dict[str, float]:
    """Log density of ``m`` at an unconstrained point on each backend."""
    return {b: compile(m, backend=b).log_density(point) for b in backends}


def assert_backends_agree(m: Model, num_points: int = 3, rtol: float = 1e-6,
                          seed: int = 0, grad: bool = True) -> None:
    """Asserts log densities (and gradients) agree across backends at random points."""
    programs = {b: compile(m, backend=b) for b in ("numpyro", "pyro")}
    for k in range(num_points):
        point = random_unconstrained_point(m, seed + k)
        values = {b: p.log_density(point) for b, p in programs.items()}
        np.testing.assert_allclose(values["pyro"], values["numpyro"], rtol=rtol,
                                   err_msg=f"log density of {m.name} at point {k}")
        if grad:
            grads = {b: p.grad_log_density(point) for b, p in programs.items()}
            for name in point:
                np.testing.assert_allclose(grads["pyro"][name], grads["numpyro"][name],
                                           rtol=1e-5, atol=1e-8,
                                           err_msg=f"gradient of {m.name} wrt {name}")


# -- models with exact posteriors or likelihoods (references for statistical tests) --------
@model
def normal_normal(n, sigma):
    """mu ~ N(1, 2), y_i ~ N(mu, sigma): conjugate, known variance."""
    mu = sample("mu", dist.Normal(1.0, 2.0))
    with plate("obs", n):
        sample("y", dist.Normal(mu, sigma))


@model
def beta_binomial(n):
    """p ~ Beta(2, 3), k ~ Binomial(n, p): posterior Beta(2 + k, 3 + n - k)."""
    p = sample("p", dist.Beta(2.0, 3.0))
    sample("k", dist.Binomial(n, probs=p))


@model
def gamma_poisson(n):
    """lam ~ Gamma(3, 1), y_i ~ Poisson(lam): posterior Gamma(3 + sum y, 1 + n)."""
    lam = sample("lam", dist.Gamma(3.0, 1.0))
    with plate("obs", n):
        sample("y", dist.Poisson(lam))


@model
def linear_regression(x, sigma):
    """w ~ N(0, 1.5^2 I), y ~ N(x w, sigma^2): Gaussian posterior and evidence."""
    w = sample("w", dist.Normal(0.0, 1.5).expand((x.shape[1],)).to_event(1))
    with plate("obs", x.shape[0]):
        sample("y", dist.Normal(x @ w, sigma))


@model
def lgssm(T, phi=0.9):
    """Linear-Gaussian state space x_t ~ N(phi x_{t-1}, q), y_t ~ N(x_t, r): Kalman-exact."""
    q = sample("q", dist.HalfNormal(1.0))
    r = sample("r", dist.HalfNormal(1.0))

    def step(x_prev, t):
        x = sample("x", dist.Normal(phi * x_prev, q))
        sample("y", dist.Normal(x, r))
        return x

    return markov("time", T, step, init=dist.Normal(0.0, 1.0))


ModelFactory = Callable[..., Model]
