"""Model evidence and model comparison.

``evidence`` runs a method that estimates the log marginal likelihood
("smc", "is", or "svi" by importance weighting its guide) and returns it with
its Monte Carlo standard error. ``compare`` ranks several models: by log
evidence for those methods, by PSIS-LOO (``arviz.compare``) for the others.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ppl.errors import MethodError

from .api import infer

# Methods whose Posterior carries a log evidence.
EVIDENCE_METHODS = ("smc", "is", "svi")


def evidence(model: Any, method: str = "smc", backend: str = "numpyro",
             **options: Any) -> tuple[float, float]:
    """Log marginal likelihood of a model and its Monte Carlo standard error.

    Args:
        model: an observed ``ppl.Model``.
        method: "smc" (default), "is", or "svi" (guide importance sampling).
        backend: "numpyro" or "pyro".
        **options: fields of the method's config.

    Returns:
        (log_evidence, standard_error).
    """
    if method not in EVIDENCE_METHODS:
        raise MethodError(f"method '{method}' gives no evidence estimate; use one of "
                          f"{', '.join(EVIDENCE_METHODS)}")
    post = infer(model, method=method, backend=backend, **options)
    return float(post.log_evidence), float(post.log_evidence_se)


def compare(models: Mapping[str, Any], method: str = "smc", backend: str = "numpyro",
            **options: Any) -> Any:
    """A table ranking models, best first (a ``pandas.DataFrame``).

    With "smc" or "is": columns log_evidence, se, d_log_evidence (to the best)
    and weight (posterior model probability under equal prior odds). With
    other methods: ``arviz.compare`` on PSIS-LOO.
    """
    if method in ("smc", "is"):
        return _evidence_table({name: evidence(m, method, backend, **options)
                                for name, m in models.items()})
    import arviz as az

    idata = {name: infer(m, method=method, backend=backend, **options).to_arviz(
        log_likelihood=True) for name, m in models.items()}
    return az.compare(idata, ic="loo")


def _evidence_table(results: Mapping[str, tuple[float, float]]) -> Any:
    import pandas as pd
    from scipy.special import softmax

    names = list(results)
    log_z = np.array([results[n][0] for n in names])
    table = pd.DataFrame({"log_evidence": log_z, "se": [results[n][1] for n in names],
                          "d_log_evidence": log_z.max() - log_z, "weight": softmax(log_z)},
                         index=names)
    return table.sort_values("log_evidence", ascending=False)
