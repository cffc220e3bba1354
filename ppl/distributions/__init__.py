"""Distribution specs of the language (``from ppl import dist``)."""
from .base import Distribution, Expanded, ExternalDistribution, FamilyDistribution, Independent
from .families import (FAMILIES, Bernoulli, Beta, Binomial, Categorical, Cauchy, Dirichlet,
                       Exponential, Gamma, HalfCauchy, HalfNormal, InverseGamma, Laplace,
                       LKJCholesky, LogNormal, MultivariateNormal, NegativeBinomial, Normal,
                       Poisson, StudentT, Uniform)
from .truncated import Truncated

__all__ = [
    "Distribution", "Expanded", "ExternalDistribution", "FamilyDistribution", "Independent",
    "Truncated", "FAMILIES", "Bernoulli", "Beta", "Binomial", "Categorical", "Cauchy",
    "Dirichlet", "Exponential", "Gamma", "HalfCauchy", "HalfNormal", "InverseGamma", "Laplace",
    "LKJCholesky", "LogNormal", "MultivariateNormal", "NegativeBinomial", "Normal", "Poisson",
    "StudentT", "Uniform",
]
