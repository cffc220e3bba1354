"""Cell store of the sbibm benchmark: one JSON file per (task, budget, contender) row.

The full sbibm table takes longer than one session, so ``benchmarks.sbi`` keeps
its rows in a :class:`benchmarks.cells.CellStore` (see there) under the settings
that determine their numbers (``CellSettings``).

Migrating a finished run's ``sbi.json`` (its ``settings`` and ``runs``)::

    PYTHONPATH=. python -m benchmarks.sbi_cells --under-load benchmarks/results/sbi_1e4/*.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from . import cells, common

Cell = tuple[str, int, str]  # (task, simulations, contender)
DEFAULT_DIR = common.REPO_ROOT / "benchmarks" / "results" / "sbi_cells"
# Bump when a contender, the simulator or the C2ST changes in a way that changes the numbers:
# stored rows of an older revision then no longer match and are run again.
REVISION = "1"


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


@dataclass(frozen=True)
class CellStore(cells.CellStore):
    """The sbi rows under ``root``, one file per (task, simulations, contender)."""

    key: Callable[[dict[str, Any]], Cell] = cell_of


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
