"""Cell store of the sbibm benchmark: one JSON file per (task, budget, contender) row.

The full sbibm table takes longer than one session, so ``benchmarks.sbi`` writes
each row the moment it is finished, skips rows already stored under the same
determining settings, and builds its report from every stored row. A file holds
the row, the settings that determine its numbers (``CellSettings``), the machine
load over the run and whether that load makes its times incomparable. A row with
an ``error`` is stored too (the report shows it) but does not count as done.

Migrating a finished run's ``sbi.json`` (its ``settings`` and ``runs``)::

    PYTHONPATH=. python -m benchmarks.sbi_cells --under-load benchmarks/results/sbi_1e4/*.json
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from . import common

Cell = tuple[str, int, str]  # (task, simulations, contender)
DEFAULT_DIR = common.REPO_ROOT / "benchmarks" / "results" / "sbi_cells"
# Bump when a contender, the simulator or the C2ST changes in a way that changes the numbers:
# stored rows of an older revision then no longer match and are run again.
REVISION = "1"
# The benchmark's own worker may keep every usable core busy; beyond 1.5x that, others compete.
LOADED_FACTOR = 1.5


@dataclass(frozen=True)
class CellSettings:
    """What determines a row's numbers; rows are mixed in one report only when these agree."""

    observations: int
    draws: int
    c2st_draws: int
    c2st_engine: str
    seed: int
    revision: str = REVISION

    @classmethod
    def of(cls, settings: Any, revision: str = REVISION) -> "CellSettings":
        """The determining part of ``BenchSettings`` (or of a saved run's ``settings`` dict)."""
        get = settings.get if isinstance(settings, dict) else lambda k: getattr(settings, k)
        return cls(int(get("observations")), int(get("draws")), int(get("c2st_draws")),
                   str(get("c2st_engine")), int(get("seed")), revision)

    def folder(self) -> str:
        return (f"obs{self.observations}-draws{self.draws}-c2st{self.c2st_draws}-"
                f"{self.c2st_engine}-seed{self.seed}-rev{self.revision}")


def cell_of(row: dict[str, Any]) -> Cell:
    return row["task"], int(row["simulations"]), row["contender"]


def is_under_load(load: dict[str, Any], cores: int | None = None) -> bool:
    """Whether the highest 1-minute load average seen exceeds ``LOADED_FACTOR`` x usable cores."""
    cores = cores or len(os.sched_getaffinity(0))
    return load["max"] > LOADED_FACTOR * cores


@dataclass(frozen=True)
class CellStore:
    """Rows under ``root`` whose settings equal ``settings`` (files of other settings are ignored)."""

    root: Path
    settings: CellSettings

    @property
    def folder(self) -> Path:
        """Where new rows go (rows are found by the settings inside them, not by the folder)."""
        return Path(self.root) / self.settings.folder()

    def path(self, cell: Cell) -> Path:
        task, budget, contender = cell
        return self.folder / f"{task}-{budget}-{contender}.json"

    def cells(self) -> dict[Cell, dict[str, Any]]:
        """Every stored record with these settings (done or error), by cell."""
        out = {}
        for path in sorted(Path(self.root).glob("**/*.json")):
            record = json.loads(path.read_text())
            if record.get("settings") == dataclasses.asdict(self.settings):
                out[cell_of(record["row"])] = record
        return out

    def rows(self) -> dict[Cell, dict[str, Any]]:
        """Stored rows with ``load`` (highest 1-minute load average) and ``under_load`` added."""
        return {c: {**r["row"], "load": r["load_average"].get("max"), "under_load": r["under_load"],
                    "git_revision": r.get("git_revision")} for c, r in self.cells().items()}

    def done(self) -> dict[Cell, dict[str, Any]]:
        """Rows without an error: these are not run again."""
        return {c: r for c, r in self.rows().items() if "error" not in r}

    def write(self, row: dict[str, Any], load: dict[str, Any], under_load: bool | None = None,
              **extra: Any) -> Path:
        """Stores one finished row atomically (an error row too: it shows, but is run again)."""
        record = {"settings": dataclasses.asdict(self.settings), "row": row, "load_average": load,
                  "under_load": is_under_load(load) if under_load is None else under_load,
                  "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **extra}
        path = self.path(cell_of(row))
        path.parent.mkdir(parents=True, exist_ok=True)
        common.write_atomic(path, json.dumps(record, indent=2) + "\n")
        return path


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


def migrate(saved: dict[str, Any], root: Path, under_load: bool, source: str = "") -> list[Path]:
    """Stores the rows of a finished run's ``sbi.json`` under the settings it recorded."""
    store = CellStore(Path(root), CellSettings.of(saved["settings"]))
    load = saved["load_average"]
    load = {**load, "max": max(load["start"][0], load["end"][0]),
            "mean": (load["start"][0] + load["end"][0]) / 2}
    return [store.write(row, load, under_load, git_revision=saved.get("revision"),
                        hardware=saved.get("hardware"), migrated_from=source)
            for row in saved["runs"]]


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Migrate sbi.json files into the cell store.")
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--cells", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--under-load", action="store_true", help="mark their times as incomparable")
    args = parser.parse_args(argv)
    for file in args.files:
        source = os.path.relpath(file.resolve(), common.REPO_ROOT)
        for path in migrate(json.loads(file.read_text()), args.cells, args.under_load, source):
            print(f"{source} -> {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
