"""A benchmark's cell store: one JSON file per finished cell, so a table can fill over several runs.

Benchmarks whose full table takes longer than one session (``benchmarks.sbi``,
``benchmarks.gmm_inverse``) write each cell the moment it is finished, skip
cells already stored under the same determining settings, and build their
report from every stored cell. A file holds the cell's row, the settings that
determine its numbers (a frozen dataclass with a ``folder()`` name), the
machine load over the run and whether that load makes its times incomparable.
A row with an ``error`` is stored too (the report shows it) but does not count
as done. Writes are atomic, so two runs filling different cells of one store at
once are safe.
"""
from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from . import common

# The benchmark's own worker may keep every usable core busy; beyond 1.5x that, others compete.
LOADED_FACTOR = 1.5


def is_under_load(load: dict[str, Any], cores: int | None = None) -> bool:
    """Whether the highest 1-minute load average seen exceeds ``LOADED_FACTOR`` x usable cores."""
    cores = cores or len(os.sched_getaffinity(0))
    return load["max"] > LOADED_FACTOR * cores


@dataclass(frozen=True)
class CellStore:
    """Rows under ``root`` whose settings equal ``settings`` (files of other settings are ignored).

    Attributes:
        root: folder of the store (searched recursively).
        settings: frozen dataclass of what determines a row's numbers; its
            ``folder()`` names the sub-folder new rows go to.
        key: row -> its cell, a tuple of str/int; the file name joins it with "-".
    """

    root: Path
    settings: Any
    key: Callable[[dict[str, Any]], tuple]

    @property
    def folder(self) -> Path:
        """Where new rows go (rows are found by the settings inside them, not by the folder)."""
        return Path(self.root) / self.settings.folder()

    def path(self, cell: tuple) -> Path:
        return self.folder / ("-".join(str(part) for part in cell) + ".json")

    def cells(self) -> dict[tuple, dict[str, Any]]:
        """Every stored record with these settings (done or error), by cell."""
        out = {}
        for path in sorted(Path(self.root).glob("**/*.json")):
            record = json.loads(path.read_text())
            if record.get("settings") == _as_json(self.settings):
                out[self.key(record["row"])] = record
        return out

    def rows(self) -> dict[tuple, dict[str, Any]]:
        """Stored rows with ``load`` (highest 1-minute load average) and ``under_load`` added."""
        return {c: {**r["row"], "load": r["load_average"].get("max"), "under_load": r["under_load"],
                    "git_revision": r.get("git_revision")} for c, r in self.cells().items()}

    def done(self) -> dict[tuple, dict[str, Any]]:
        """Rows without an error: these are not run again."""
        return {c: r for c, r in self.rows().items() if "error" not in r}

    def write(self, row: dict[str, Any], load: dict[str, Any], under_load: bool | None = None,
              **extra: Any) -> Path:
        """Stores one finished row atomically (an error row too: it shows, but is run again)."""
        record = {"settings": _as_json(self.settings), "row": row, "load_average": load,
                  "under_load": is_under_load(load) if under_load is None else under_load,
                  "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **extra}
        path = self.path(self.key(row))
        path.parent.mkdir(parents=True, exist_ok=True)
        common.write_atomic(path, json.dumps(record, indent=2, default=float) + "\n")
        return path


def _as_json(settings: Any) -> Any:
    """The settings as they read back from JSON (tuples become lists), so stored ones compare equal."""
    return json.loads(json.dumps(dataclasses.asdict(settings)))


class LoadMonitor:
    """Samples the 1-minute load average in a daemon thread while a cell runs.

    ``with LoadMonitor() as load: ...`` fills ``load`` with ``start``/``end`` (all three
    averages), and ``mean``/``max`` of the 1-minute samples taken every ``interval_s``.
    """

    def __init__(self, interval_s: float = 15.0):
        self.interval_s, self.samples, self.summary = interval_s, [], {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> dict[str, Any]:
        self.summary["start"] = list(os.getloadavg())
        self.samples.append(self.summary["start"][0])
        self._thread.start()
        return self.summary

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.summary["end"] = list(os.getloadavg())
        ones = [*self.samples, self.summary["end"][0]]
        self.summary.update(mean=sum(ones) / len(ones), max=max(ones))
