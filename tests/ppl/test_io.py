"""Atomic writes leave nothing behind on failure and give the usual file mode."""
import os
from pathlib import Path

import pytest

from ppl import io


def test_atomic_write_leaves_nothing_behind_on_failure(tmp_path):
    target = tmp_path / "result.txt"

    def fail(tmp: str) -> None:
        Path(tmp).write_text("half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        io.atomic_write(str(target), fail)
    assert list(tmp_path.iterdir()) == []
    io.atomic_write_text(str(target), "done\n")
    assert target.read_text() == "done\n" and list(tmp_path.iterdir()) == [target]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600
