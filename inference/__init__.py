"""Inference methods for ppl models, behind one registry.

``import inference`` registers the built-in methods; ``ppl.infer`` calls
:func:`infer` here.
"""
from . import mcmc  # noqa: F401 - registers "nuts" and "hmc"
from . import importance, smc, vi  # noqa: F401 - registers "is", "smc" and "svi"
from . import filtering  # noqa: F401 - registers "pmmh"
from . import diffusion  # noqa: F401 - registers "dps", "pigdm", "ddrm", "repaint" (and "tds", "mcgdiff")
from .api import infer, predictive
from .posterior import Posterior
from .registry import METHODS, Capabilities, MethodSpec, register

__all__ = ["METHODS", "Capabilities", "MethodSpec", "Posterior", "infer", "predictive", "register"]
