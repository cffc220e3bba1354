"""Atomic file writes: a failure never leaves a half-written file behind."""
from __future__ import annotations

import os
import tempfile


def atomic_write_bytes(path: str, payload: bytes) -> str:
    """Writes ``payload`` to a temporary file beside ``path``, then renames it into place.

    Returns:
        ``path``.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str, text: str) -> str:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    return atomic_write_bytes(path, text.encode("utf-8"))
