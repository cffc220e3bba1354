"""Each family lowers to a native distribution whose log density matches scipy on a grid."""
import numpy as np
import pytest
import scipy.stats as st

import ppl
from ppl import dist
from ppl.backends import get_backend

REAL = np.linspace(-4, 4, 17)
POS = np.linspace(0.1, 6, 13)
UNIT = np.linspace(0.05, 0.95, 10)
COUNTS = np.arange(0, 12).astype(float)

# name -> (spec, scipy log density, grid)
CASES = {
    "Normal": (dist.Normal(0.5, 2.0), st.norm(0.5, 2.0).logpdf, REAL),
    "HalfNormal": (dist.HalfNormal(1.5), st.halfnorm(scale=1.5).logpdf, POS),
    "HalfCauchy": (dist.HalfCauchy(2.0), st.halfcauchy(scale=2.0).logpdf, POS),
    "Cauchy": (dist.Cauchy(-1.0, 0.5), st.cauchy(-1.0, 0.5).logpdf, REAL),
    "StudentT": (dist.StudentT(4.0, 1.0, 2.0), st.t(4.0, 1.0, 2.0).logpdf, REAL),
    "LogNormal": (dist.LogNormal(0.2, 0.7), st.lognorm(0.7, scale=np.exp(0.2)).logpdf, POS),
    "Exponential": (dist.Exponential(1.7), st.expon(scale=1 / 1.7).logpdf, POS),
    "Gamma": (dist.Gamma(2.5, 1.5), st.gamma(2.5, scale=1 / 1.5).logpdf, POS),
    "InverseGamma": (dist.InverseGamma(3.0, 2.0), st.invgamma(3.0, scale=2.0).logpdf, POS),
    "Beta": (dist.Beta(2.0, 3.5), st.beta(2.0, 3.5).logpdf, UNIT),
    "Uniform": (dist.Uniform(-1.0, 3.0), st.uniform(-1.0, 4.0).logpdf, np.linspace(-0.9, 2.9, 9)),
    "Laplace": (dist.Laplace(0.3, 1.2), st.laplace(0.3, 1.2).logpdf, REAL),
    "Bernoulli": (dist.Bernoulli(probs=0.3), st.bernoulli(0.3).logpmf, np.array([0.0, 1.0])),
    "Bernoulli_logits": (dist.Bernoulli(logits=0.4), st.bernoulli(1 / (1 + np.exp(-0.4))).logpmf,
                         np.array([0.0, 1.0])),
    "Binomial": (dist.Binomial(11, probs=0.35), st.binom(11, 0.35).logpmf, COUNTS),
    "Poisson": (dist.Poisson(3.2), st.poisson(3.2).logpmf, COUNTS),
    # torch/NumPyro count successes with success probability `probs`; scipy counts failures.
    "NegativeBinomial": (dist.NegativeBinomial(4.0, probs=0.3), st.nbinom(4.0, 0.7).logpmf, COUNTS),
    "Categorical": (dist.Categorical(probs=np.array([0.2, 0.5, 0.3])),
                    lambda k: np.log(np.array([0.2, 0.5, 0.3])[k.astype(int)]), np.array([0.0, 1, 2])),
    "TruncatedNormal": (dist.Normal(0.0, 1.0).truncate(-1.0, 2.0),
                        st.truncnorm(-1.0, 2.0).logpdf, np.linspace(-0.9, 1.9, 8)),
}

MVN_COV = np.array([[2.0, 0.3], [0.3, 0.5]])
MV_CASES = {
    "MVN_cov": (dist.MultivariateNormal(np.array([1.0, -1.0]), covariance_matrix=MVN_COV),
                st.multivariate_normal([1.0, -1.0], MVN_COV).logpdf),
    "MVN_prec": (dist.MultivariateNormal(np.array([1.0, -1.0]), precision_matrix=np.linalg.inv(MVN_COV)),
                 st.multivariate_normal([1.0, -1.0], MVN_COV).logpdf),
    "MVN_tril": (dist.MultivariateNormal(np.array([1.0, -1.0]), scale_tril=np.linalg.cholesky(MVN_COV)),
                 st.multivariate_normal([1.0, -1.0], MVN_COV).logpdf),
}


def _lower(spec, backend_name):
    from ppl.lowering import lower_dist

    return lower_dist(spec, get_backend(backend_name), {})


def _log_prob(spec, backend_name, values):
    backend = get_backend(backend_name)
    fn = _lower(spec, backend_name)
    arr = backend.observed_array(values, spec)
    return backend.to_numpy(fn.log_prob(arr))


@pytest.mark.parametrize("backend", ["numpyro", "pyro"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_univariate_log_prob_matches_scipy(name, backend):
    spec, reference, grid = CASES[name]
    np.testing.assert_allclose(_log_prob(spec, backend, grid), reference(grid), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("backend", ["numpyro", "pyro"])
@pytest.mark.parametrize("name", sorted(MV_CASES))
def test_multivariate_normal_matches_scipy(name, backend):
    spec, reference = MV_CASES[name]
    points = np.random.default_rng(1).normal(size=(6, 2))
    np.testing.assert_allclose(_log_prob(spec, backend, points), reference(points), rtol=1e-6)


@pytest.mark.parametrize("backend", ["numpyro", "pyro"])
def test_dirichlet_matches_scipy(backend):
    alpha = np.array([1.5, 2.0, 3.0])
    points = np.random.default_rng(2).dirichlet(alpha, size=5)
    expected = [st.dirichlet(alpha).logpdf(p) for p in points]
    np.testing.assert_allclose(_log_prob(dist.Dirichlet(alpha), backend, points), expected, rtol=1e-6)


@pytest.mark.parametrize("backend", ["numpyro", "pyro"])
def test_lkj_cholesky_normalised_in_2d(backend):
    """For d=2 the correlation r has density ∝ (1-r²)^(η-1) on (-1, 1)."""
    eta = 2.0
    r = np.linspace(-0.9, 0.9, 7)
    chol = np.zeros((7, 2, 2))
    chol[:, 0, 0], chol[:, 1, 0], chol[:, 1, 1] = 1.0, r, np.sqrt(1 - r ** 2)
    got = _log_prob(dist.LKJCholesky(2, eta), backend, chol)
    # (r+1)/2 ~ Beta(eta, eta); L's only free entry is L[1,0] = r, so the Jacobian is 1.
    expected = st.beta(eta, eta).logpdf((r + 1) / 2) - np.log(2)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_shapes_of_batched_and_event_specs():
    spec = dist.Normal(np.zeros(3), 1.0).expand((4, 3)).to_event(1)
    assert spec.batch_shape == (4,) and spec.event_shape == (3,)
    mvn = dist.MultivariateNormal(np.zeros((5, 2)), covariance_matrix=np.eye(2))
    assert mvn.batch_shape == (5,) and mvn.event_shape == (2,)
    assert dist.Categorical(logits=np.zeros((4, 6))).batch_shape == (4,)
    assert dist.LKJCholesky(3).event_shape == (3, 3)


def test_exactly_one_parameterization():
    with pytest.raises(ppl.ParameterError, match="exactly one of probs, logits"):
        dist.Bernoulli(probs=0.2, logits=0.1)
    with pytest.raises(ppl.ParameterError, match="MultivariateNormal needs exactly one"):
        dist.MultivariateNormal(np.zeros(2))
    with pytest.raises(ppl.ParameterError, match="truncation supports"):
        dist.Gamma(2.0, 1.0).truncate(0.0, 1.0)
