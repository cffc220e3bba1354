"""What a backend provides to the shared lowering and to inference."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import constraints as C
from ..errors import LoweringError


class Backend:
    """Primitives, arrays, ops and distribution classes of one PPL library.

    Subclasses set ``name``, ``device``, ``ops`` (an op table), ``dist_module``
    and ``constraints_module``, and implement the array and primitive hooks.
    """

    name: str
    device: str
    ops: Any
    dist_module: Any
    constraints_module: Any
    # Backend-specific spellings of constraint kinds, where they differ.
    constraint_aliases: dict[str, str] = {}

    def asarray(self, value: Any) -> Any:
        raise NotImplementedError

    def observed_array(self, value: np.ndarray, spec: Any) -> Any:
        """Observed data as a backend array (integers for categorical indices)."""
        while hasattr(spec, "base"):  # Independent / Expanded / Truncated wrappers
            spec = spec.base
        family = getattr(getattr(spec, "family", None), "name", "")
        arr = np.asarray(value)
        return self.asarray(arr.astype(np.int64) if family == "Categorical" else arr.astype(float))

    def to_numpy(self, value: Any) -> np.ndarray:
        raise NotImplementedError

    def family(self, name: str, params: dict[str, Any], statics: dict[str, int]) -> Any:
        """Builds the native distribution of a family (Pyro/NumPyro share names)."""
        ctor = getattr(self.dist_module, name, None)
        if ctor is None:
            raise LoweringError(f"backend '{self.name}' has no distribution {name}")
        return ctor(*statics.values(), **params)

    def constraint(self, c: C.Constraint) -> Any:
        """The backend's constraint object for a ppl constraint."""
        key = self.constraint_aliases.get(c.backend_key, c.backend_key)
        obj = getattr(self.constraints_module, key, None)
        if obj is None:
            raise LoweringError(f"backend '{self.name}' has no constraint '{c.name}'")
        return obj(*c.args) if c.args else obj

    # primitives ---------------------------------------------------------------------
    sample: Callable[..., Any]
    deterministic: Callable[..., Any]
    factor: Callable[..., Any]
    plate: Callable[..., Any]

    def param(self, name: str, init: Any, support: C.Constraint) -> Any:
        raise NotImplementedError

    def truncated(self, base: Any, low: Any, high: Any) -> Any:
        raise NotImplementedError
