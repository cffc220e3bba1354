"""Atomic file writes: a failure never leaves a half-written file behind."""
from __future__ import annotations

import os
import tempfile
from typing import Callable

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: str, write: Callable[[str], None]) -> str:
    """Calls ``write(tmp_path)``, then renames the temporary file to ``path``.

    The temporary file sits in the target folder (so the rename is atomic) and
    keeps the target's extension (so writers that look at it, like
    matplotlib's ``savefig``, pick the right format). The final file gets the
    usual permissions (``mkstemp`` would leave it private).

    Returns:
        ``path``.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.splitext(path)[1])
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_bytes(path: str, payload: bytes) -> str:
    """Writes ``payload`` to ``path`` atomically."""

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            fh.write(payload)

    return atomic_write(path, write)


def atomic_write_text(path: str, text: str) -> str:
    """Writes UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))
