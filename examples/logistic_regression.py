"""Bayesian logistic regression: posterior coefficients and predictive accuracy.

    y_i ~ Bernoulli(logits = alpha + X_i @ beta)

Data: synthetic (default; known coefficients) or scikit-learn's breast cancer
set (``--data breast_cancer``; 569 tumours, 30 standardized features). The
data are split into a training and a held-out set; the posterior comes from
the training set, and the posterior predictive of the *same model applied to
the held-out inputs* gives each held-out label's probability. Predicting the
more probable label gives the accuracy reported next to a reference (the
true coefficients for synthetic data, scikit-learn's L2 logistic regression
for breast cancer).

Run::

    PYTHONPATH=. python examples/logistic_regression.py --backend numpyro --data breast_cancer
"""
from __future__ import annotations

import os
import sys
from typing import Sequence

import numpy as np

import ppl
from ppl import dist

from _common import make_parser, num_divergences, print_header, run_nuts, summarize, write_csv

DATA_SEED = 7
TRUE_ALPHA = -0.5
TRUE_BETA = np.array([1.0, -2.0, 0.5, 0.0])
PRIOR_SCALE = 2.5  # weakly informative on standardized inputs (Gelman et al. 2008)


@ppl.model
def logistic_regression(X):
    alpha = ppl.sample("alpha", dist.Normal(0.0, PRIOR_SCALE))
    beta = ppl.sample("beta", dist.Normal(0.0, PRIOR_SCALE).expand((X.shape[1],)).to_event(1))
    with ppl.plate("obs", X.shape[0]):
        ppl.sample("y", dist.Bernoulli(logits=alpha + X @ beta))


def synthetic_data(num_obs: int) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) drawn from the true coefficients with a fixed seed; X is (num_obs, 4)."""
    rng = np.random.default_rng(DATA_SEED)
    X = rng.normal(size=(num_obs, TRUE_BETA.size))
    p = 1.0 / (1.0 + np.exp(-(TRUE_ALPHA + X @ TRUE_BETA)))
    return X, (rng.uniform(size=num_obs) < p).astype(np.float64)


def breast_cancer_data() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """scikit-learn's breast cancer set (shipped with it), features standardized."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    X = (data.data - data.data.mean(0)) / data.data.std(0)
    return X, data.target.astype(np.float64), list(data.feature_names)


def split(X: np.ndarray, y: np.ndarray, test_fraction: float) -> tuple[np.ndarray, ...]:
    """A fixed random train/test split: (X_train, y_train, X_test, y_test)."""
    order = np.random.default_rng(DATA_SEED + 1).permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    test, train = order[:n_test], order[n_test:]
    return X[train], y[train], X[test], y[test]


def predictive_probability(posterior, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """P(y = 1 | training data) for each row of X: the posterior predictive mean of y.

    The model on X is conditioned on y only so that ``y`` counts as an observed
    site: ``ppl.predictive`` redraws observed sites given the posterior's
    latents (it never reads y's values) and insists on posterior draws of
    every latent site, so an unobserved ``y`` would be refused.
    """
    model = logistic_regression(X).observe(y=y)
    draws = ppl.predictive(model, posterior=posterior, seed=1, backend=posterior.backend)["y"]
    return draws.reshape((-1, X.shape[0])).mean(axis=0)


def reference_accuracy(data: str, X_train, y_train, X_test, y_test) -> tuple[str, float]:
    """Accuracy of the reference classifier on the held-out set."""
    if data == "synthetic":
        logits = TRUE_ALPHA + X_test @ TRUE_BETA
        return "true coefficients", float(np.mean((logits > 0) == (y_test > 0.5)))
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=5000).fit(X_train, y_train)
    return "scikit-learn LogisticRegression", float(clf.score(X_test, y_test))


def accuracy(posterior, X: np.ndarray, y: np.ndarray) -> float:
    """Share of labels that the more probable posterior-predictive label gets right."""
    return float(np.mean((predictive_probability(posterior, X, y) > 0.5) == (y > 0.5)))


def load_data(args) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(X, y, feature names) of the data set chosen on the command line."""
    if args.data == "breast_cancer":
        return breast_cancer_data()
    X, y = synthetic_data(args.num_obs)
    return X, y, [f"x{j}" for j in range(X.shape[1])]


def main(argv: Sequence[str] | None = None) -> dict:
    """Fits the model on the training split and scores held-out predictions.

    Returns:
        ``{"posterior", "summary", "beta_mean" (D,), "beta_sd" (D,), "alpha_mean",
        "truth" ((alpha, beta) for synthetic data, else None), "accuracy",
        "train_accuracy", "reference", "reference_accuracy", "divergences"}``.
    """
    parser = make_parser(__doc__.splitlines()[0], chains=4, warmup=500, draws=500)
    parser.add_argument("--data", choices=("synthetic", "breast_cancer"), default="synthetic")
    parser.add_argument("--num-obs", type=int, default=400,
                        help="synthetic data points before the split (%(default)s)")
    parser.add_argument("--test-fraction", type=float, default=0.3)
    args = parser.parse_args(argv)
    X, y, names = load_data(args)
    X_train, y_train, X_test, y_test = split(X, y, args.test_fraction)
    synthetic = args.data == "synthetic"

    post = run_nuts(logistic_regression(X_train).observe(y=y_train), args)
    beta, alpha = post.flat("beta"), post.flat("alpha")
    result = {
        "posterior": post, "summary": summarize(post.to_arviz(), ["alpha", "beta"]),
        "beta_mean": beta.mean(0), "beta_sd": beta.std(0), "alpha_mean": float(alpha.mean()),
        "truth": (TRUE_ALPHA, TRUE_BETA) if synthetic else None,
        "accuracy": accuracy(post, X_test, y_test),
        "train_accuracy": accuracy(post, X_train, y_train),
        "divergences": num_divergences(post),
    }
    result["reference"], result["reference_accuracy"] = reference_accuracy(
        args.data, X_train, y_train, X_test, y_test)

    print_header(f"logistic regression on {args.data} ({args.backend}, "
                 f"{len(y_train)} train / {len(y_test)} test)")
    print(coefficient_table(names, result["beta_mean"], result["beta_sd"],
                            TRUE_BETA if synthetic else None))
    print(f"alpha: {alpha.mean():.3f} (sd {alpha.std():.3f})"
          + (f", true {TRUE_ALPHA}" if synthetic else ""))
    print(f"posterior-predictive accuracy: held-out {result['accuracy']:.3f}, "
          f"training {result['train_accuracy']:.3f}")
    print(f"{result['reference']} accuracy (held-out): {result['reference_accuracy']:.3f}")
    print(f"divergent transitions: {result['divergences']}")
    if args.out:
        write_csv(os.path.join(args.out, f"summary_{args.data}.csv"), result["summary"])
    return result


def coefficient_table(names: list[str], mean: np.ndarray, sd: np.ndarray,
                      truth: np.ndarray | None) -> str:
    """One row per coefficient: posterior mean and sd (and the true value)."""
    width = max(len(n) for n in names + ["feature"]) + 2
    header = f"{'feature':<{width}}{'mean':>8}{'sd':>7}"
    lines = [header + (f"{'true':>8}" if truth is not None else "")]
    for j, name in enumerate(names):
        line = f"{name:<{width}}{mean[j]:>8.3f}{sd[j]:>7.3f}"
        lines.append(line + (f"{truth[j]:>8.3f}" if truth is not None else ""))
    return "\n".join(lines)


if __name__ == "__main__":
    main(sys.argv[1:])
