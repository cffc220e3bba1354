"""One family of errors for everything the language reports.

Every error names the site (when there is one) and says what is wrong, so a
user can fix the model without reading a backend traceback.
"""
from __future__ import annotations


class PPLError(Exception):
    """Base class of every error raised by ppl, inference and models."""

    def __init__(self, message: str, *, site: str | None = None):
        self.site = site
        prefix = f"site '{site}': " if site is not None else ""
        super().__init__(prefix + message)


class ModelError(PPLError):
    """The model itself is malformed (duplicate names, misuse of primitives)."""


class DuplicateSiteError(ModelError):
    """Two sites share one name."""


class ObservationError(PPLError):
    """Observed data is unknown, non-finite, outside the support or misshapen."""


class ShapeError(PPLError):
    """Shapes do not broadcast or do not fit a plate."""


class ParameterError(PPLError):
    """A constant distribution parameter is invalid (e.g. a negative scale)."""


class LoweringError(PPLError):
    """A backend cannot lower an op or a distribution."""


class MethodError(PPLError):
    """An inference method cannot handle a model."""


class CheckpointError(PPLError):
    """A checkpoint is missing, corrupt, truncated or does not match."""
