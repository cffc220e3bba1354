"""The distribution families of the language, one constructor each.

Each constructor returns a :class:`FamilyDistribution`; the table
:data:`FAMILIES` holds parameter constraints, support and event-shape rules.
Pyro and NumPyro name every family here identically, so lowering is a lookup.
"""
from __future__ import annotations

from typing import Any

from .. import constraints as C
from ..errors import ParameterError
from .base import FamilyDistribution, FamilySpec, ParamSpec

P = ParamSpec
FAMILIES: dict[str, FamilySpec] = {}


def _family(name: str, params: tuple[ParamSpec, ...], support: Any, **kw: Any) -> FamilySpec:
    fn = support if callable(support) and not isinstance(support, C.Constraint) else (
        lambda consts, shapes, s=support: s)
    spec = FamilySpec(name, params, fn, **kw)
    FAMILIES[name] = spec
    return spec


def _last(key: str):
    return lambda shapes: tuple(shapes[key][-1:])


def _binomial_support(c: dict, shapes: dict) -> C.Constraint | None:
    n = c.get("total_count")
    return None if n is None else C.integer_interval(0, n)


def _uniform_support(c: dict, shapes: dict) -> C.Constraint | None:
    low, high = c.get("low"), c.get("high")
    return None if low is None or high is None else C.interval(low, high)


def _mvn_event(shapes: dict) -> tuple[int, ...]:
    for key, ed in (("loc", 1), ("covariance_matrix", 2), ("precision_matrix", 2), ("scale_tril", 2)):
        if key in shapes and len(shapes[key]) >= ed and key != "loc":
            return tuple(shapes[key][-1:])
    return tuple(shapes["loc"][-1:])


_family("Normal", (P("loc", C.real), P("scale", C.positive)), C.real)
_family("HalfNormal", (P("scale", C.positive),), C.nonnegative)
_family("HalfCauchy", (P("scale", C.positive),), C.nonnegative)
_family("Cauchy", (P("loc", C.real), P("scale", C.positive)), C.real)
_family("StudentT", (P("df", C.positive), P("loc", C.real), P("scale", C.positive)), C.real)
_family("LogNormal", (P("loc", C.real), P("scale", C.positive)), C.positive)
_family("Exponential", (P("rate", C.positive),), C.nonnegative)
_family("Gamma", (P("concentration", C.positive), P("rate", C.positive)), C.positive)
_family("InverseGamma", (P("concentration", C.positive), P("rate", C.positive)), C.positive)
_family("Beta", (P("concentration1", C.positive), P("concentration0", C.positive)),
        C.open_unit_interval)
_family("Uniform", (P("low", C.real), P("high", C.real)), _uniform_support)
_family("Laplace", (P("loc", C.real), P("scale", C.positive)), C.real)
_family("MultivariateNormal", (
    P("loc", C.real, 1), P("covariance_matrix", C.positive_definite, 2),
    P("precision_matrix", C.positive_definite, 2), P("scale_tril", C.lower_cholesky, 2)),
    C.real_vector, event_shape=_mvn_event)
_family("LKJCholesky", (P("concentration", C.positive),), C.corr_cholesky,
        event_shape=lambda s: (s["dim"], s["dim"]), static=("dim",))
_family("Dirichlet", (P("concentration", C.positive, 1),), C.simplex,
        event_shape=_last("concentration"))
_family("Bernoulli", (P("probs", C.unit_interval), P("logits", C.real)), C.boolean, discrete=True)
_family("Categorical", (P("probs", C.simplex, 1), P("logits", C.real, 1)),
        lambda c, s: C.integer_interval(0, next(iter(s.values()))[-1] - 1), discrete=True)
_family("Binomial", (P("total_count", C.nonnegative_integer), P("probs", C.unit_interval),
                     P("logits", C.real)), _binomial_support, discrete=True)
_family("Poisson", (P("rate", C.positive),), C.nonnegative_integer, discrete=True)
_family("NegativeBinomial", (P("total_count", C.positive), P("probs", C.open_unit_interval),
                             P("logits", C.real)), C.nonnegative_integer, discrete=True)


def _make(name: str, statics: dict | None = None, **params: Any) -> FamilyDistribution:
    return FamilyDistribution(FAMILIES[name], {k: v for k, v in params.items() if v is not None},
                              statics or {})


def _one_of(family: str, **options: Any) -> dict[str, Any]:
    given = {k: v for k, v in options.items() if v is not None}
    if len(given) != 1:
        raise ParameterError(f"{family} needs exactly one of {', '.join(options)}; got "
                             f"{', '.join(given) or 'none'}")
    return given


def Normal(loc: Any = 0.0, scale: Any = 1.0) -> FamilyDistribution:
    """Normal(loc, scale); support real."""
    return _make("Normal", loc=loc, scale=scale)


def HalfNormal(scale: Any = 1.0) -> FamilyDistribution:
    """|Normal(0, scale)|; support [0, inf)."""
    return _make("HalfNormal", scale=scale)


def HalfCauchy(scale: Any = 1.0) -> FamilyDistribution:
    """|Cauchy(0, scale)|; support [0, inf)."""
    return _make("HalfCauchy", scale=scale)


def Cauchy(loc: Any = 0.0, scale: Any = 1.0) -> FamilyDistribution:
    """Cauchy(loc, scale); support real."""
    return _make("Cauchy", loc=loc, scale=scale)


def StudentT(df: Any, loc: Any = 0.0, scale: Any = 1.0) -> FamilyDistribution:
    """Student's t with ``df`` degrees of freedom; support real."""
    return _make("StudentT", df=df, loc=loc, scale=scale)


def LogNormal(loc: Any = 0.0, scale: Any = 1.0) -> FamilyDistribution:
    """exp(Normal(loc, scale)); support (0, inf)."""
    return _make("LogNormal", loc=loc, scale=scale)


def Exponential(rate: Any = 1.0) -> FamilyDistribution:
    """Exponential(rate), mean 1/rate; support [0, inf)."""
    return _make("Exponential", rate=rate)


def Gamma(concentration: Any, rate: Any = 1.0) -> FamilyDistribution:
    """Gamma(concentration, rate), mean concentration/rate; support (0, inf)."""
    return _make("Gamma", concentration=concentration, rate=rate)


def InverseGamma(concentration: Any, rate: Any = 1.0) -> FamilyDistribution:
    """1/Gamma(concentration, rate); support (0, inf)."""
    return _make("InverseGamma", concentration=concentration, rate=rate)


def Beta(concentration1: Any, concentration0: Any) -> FamilyDistribution:
    """Beta(a=concentration1, b=concentration0); support (0, 1)."""
    return _make("Beta", concentration1=concentration1, concentration0=concentration0)


def Uniform(low: Any = 0.0, high: Any = 1.0) -> FamilyDistribution:
    """Uniform on [low, high]."""
    return _make("Uniform", low=low, high=high)


def Laplace(loc: Any = 0.0, scale: Any = 1.0) -> FamilyDistribution:
    """Laplace(loc, scale); support real."""
    return _make("Laplace", loc=loc, scale=scale)


def MultivariateNormal(loc: Any, covariance_matrix: Any = None, precision_matrix: Any = None,
                       scale_tril: Any = None) -> FamilyDistribution:
    """Multivariate normal with exactly one of covariance, precision or Cholesky scale.

    Shapes: loc (..., d); matrices (..., d, d); event shape (d,).
    """
    given = _one_of("MultivariateNormal", covariance_matrix=covariance_matrix,
                    precision_matrix=precision_matrix, scale_tril=scale_tril)
    return _make("MultivariateNormal", loc=loc, **given)


def LKJCholesky(dim: int, concentration: Any = 1.0) -> FamilyDistribution:
    """LKJ prior on Cholesky factors of ``dim`` x ``dim`` correlation matrices."""
    if not isinstance(dim, int) or dim < 2:
        raise ParameterError(f"LKJCholesky dim must be an int >= 2, got {dim!r}")
    return _make("LKJCholesky", statics={"dim": dim}, concentration=concentration)


def Dirichlet(concentration: Any) -> FamilyDistribution:
    """Dirichlet(concentration (..., K)); event shape (K,), support the simplex."""
    return _make("Dirichlet", concentration=concentration)


def Bernoulli(probs: Any = None, logits: Any = None) -> FamilyDistribution:
    """Bernoulli with ``probs`` or ``logits``; values 0/1."""
    return _make("Bernoulli", **_one_of("Bernoulli", probs=probs, logits=logits))


def Categorical(probs: Any = None, logits: Any = None) -> FamilyDistribution:
    """Categorical over K classes, ``probs`` or ``logits`` of shape (..., K)."""
    return _make("Categorical", **_one_of("Categorical", probs=probs, logits=logits))


def Binomial(total_count: Any, probs: Any = None, logits: Any = None) -> FamilyDistribution:
    """Binomial(total_count, probs or logits); values 0..total_count."""
    return _make("Binomial", total_count=total_count,
                 **_one_of("Binomial", probs=probs, logits=logits))


def Poisson(rate: Any) -> FamilyDistribution:
    """Poisson(rate); values 0, 1, 2, ..."""
    return _make("Poisson", rate=rate)


def NegativeBinomial(total_count: Any, probs: Any = None, logits: Any = None) -> FamilyDistribution:
    """Successes before ``total_count`` failures, success probability ``probs``."""
    return _make("NegativeBinomial", total_count=total_count,
                 **_one_of("NegativeBinomial", probs=probs, logits=logits))
