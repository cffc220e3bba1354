"""Diffusion posterior sampling: x ~ a prior with a denoiser, y observed given x.

Methods (each registered by name, on both backends): ``dps``, ``pigdm``,
``ddrm``, ``repaint`` here, and the asymptotically exact SMC samplers
``tds`` and ``mcgdiff``. They share :mod:`.problem` (what the model says),
:mod:`.denoisers` (one view over every prior with a denoiser), :mod:`.updates`
(the DDIM step), :mod:`.driver` and :mod:`.result`.

``method="auto"`` on a model with a diffusion-prior latent picks MCGdiff when
the likelihood is one linear-Gaussian observation and TDS
otherwise: both are asymptotically exact; MCGdiff uses the linear structure.
The other methods are fast but biased, so auto never picks them.
"""
import importlib
import importlib.util

from ..registry import AUTO_ORDER, METHODS
from . import ddrm, dps, pigdm, repaint  # noqa: F401 - register the methods
from .config import SamplerConfig
from .denoisers import DenoiserView, make_view
from .driver import Kernel, run_kernel
from .problem import DiffusionProblem, make_problem
from .result import make_posterior

# The SMC samplers, in auto's order of preference (a module each).
EXACT_SAMPLERS = ("mcgdiff", "tds")
for _name in EXACT_SAMPLERS + ("blind",):
    if importlib.util.find_spec(f"{__name__}.{_name}") is not None:
        importlib.import_module(f"{__name__}.{_name}")


def _prefer_exact_samplers() -> None:
    """Puts the SMC samplers first in ``AUTO_ORDER``: they refuse models without a
    diffusion prior, so every other model still gets the method it got before."""
    present = [m for m in EXACT_SAMPLERS if m in METHODS]
    AUTO_ORDER[:] = present + [m for m in AUTO_ORDER if m not in present]


_prefer_exact_samplers()

__all__ = ["DenoiserView", "DiffusionProblem", "Kernel", "SamplerConfig", "make_posterior",
           "make_problem", "make_view", "run_kernel"]
