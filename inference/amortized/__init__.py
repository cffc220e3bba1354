"""Amortized inference: a whole model lowered to a neural posterior q(theta | x).

``amortize(model, observed="x", to="flow" | "diffusion", simulations=N)``
simulates (theta, x) from the compiled model, trains a conditional flow (NPE)
or a conditional denoiser (NPSE) with early stopping, and returns an
:class:`AmortizedPosterior` whose ``posterior(x=..., draws=...)`` is a
``Posterior`` like every other method's.
"""
from .api import amortize
from .config import EmbeddingConfig, NPEConfig, NPSEConfig, TrainingSettings
from .posterior import AmortizedPosterior

__all__ = ["AmortizedPosterior", "EmbeddingConfig", "NPEConfig", "NPSEConfig", "TrainingSettings", "amortize"]
