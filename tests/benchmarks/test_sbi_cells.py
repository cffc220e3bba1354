"""The sbibm benchmark fills its table over several runs from a store of finished cells."""
from __future__ import annotations

import json
from concurrent.futures import Future
from pathlib import Path

import pytest

from benchmarks import sbi, sbi_cells, sbi_report
from benchmarks.cells import is_under_load
from benchmarks.sbi_cells import CellSettings, CellStore

LOAD = {"start": [1.0, 1.0, 1.0], "end": [1.0, 1.0, 1.0], "mean": 1.0, "max": 1.0}
SAVED_1E4 = (Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "sbi_1e4"
             / "slcp_gaussian_mixture_obs1-10.json")


def _settings(*flags: str) -> sbi.BenchSettings:
    return sbi.settings_from(sbi.parse_args(["--models", "two_moons", "--budgets", "1000",
                                             "--only", "ppl-npe,ppl-npse", *flags]))


def _row(task: str, budget: int, contender: str, c2st: float = 0.6, **extra) -> dict:
    return {"task": task, "simulations": budget, "contender": contender, "label": contender,
            "method": "npe", "c2st": c2st, "training_s": 10.0, "sampling_s": 1.0,
            "peak_rss_mb": 500.0, "wall_s": 20.0, **extra}


class FakeRunOne:
    """Stands in for ``sbi.run_one``: records calls, returns queued rows (default: a result)."""

    def __init__(self, errors: tuple = ()):
        self.calls, self.errors = [], set(errors)

    def __call__(self, name, task, budget, settings, tmp, sims, defer_scoring=False):
        self.calls.append((task, budget, name))
        if (task, budget, name) in self.errors:
            return _row(task, budget, name) | {"error": "exit 1: boom"}, None
        return _row(task, budget, name, c2st=0.55), None


@pytest.fixture
def fake(monkeypatch):
    fake = FakeRunOne()
    monkeypatch.setattr(sbi, "run_one", fake)
    return fake


def _store(root: Path, settings: sbi.BenchSettings, revision: str = sbi_cells.REVISION) -> CellStore:
    return CellStore(root, CellSettings.of(settings, revision))


def test_done_cells_are_skipped_unless_rerun(tmp_path, fake, capsys):
    settings = _settings()
    store = _store(tmp_path, settings)
    store.write(_row("two_moons", 1000, "ppl-npe", c2st=0.7), LOAD)
    sbi.run_all(settings, store)
    assert fake.calls == [("two_moons", 1000, "ppl-npse")]
    assert "skip two_moons 1000 ppl-npe" in capsys.readouterr().err
    done = store.done()
    assert set(done) == {("two_moons", 1000, "ppl-npe"), ("two_moons", 1000, "ppl-npse")}
    assert done["two_moons", 1000, "ppl-npe"]["c2st"] == 0.7  # the stored row was kept
    sbi.run_all(settings, store)
    assert len(fake.calls) == 1  # everything done: nothing runs
    sbi.run_all(settings, store, rerun=True)
    assert fake.calls[1:] == [("two_moons", 1000, "ppl-npe"), ("two_moons", 1000, "ppl-npse")]
    assert store.done()["two_moons", 1000, "ppl-npe"]["c2st"] == 0.55


def test_error_cells_are_stored_but_run_again(tmp_path, monkeypatch):
    settings = _settings()
    store = _store(tmp_path, settings)
    failing = FakeRunOne(errors=[("two_moons", 1000, "ppl-npse")])
    monkeypatch.setattr(sbi, "run_one", failing)
    sbi.run_all(settings, store)
    record = json.loads(store.path(("two_moons", 1000, "ppl-npse")).read_text())
    assert record["row"]["error"] == "exit 1: boom" and record["load_average"]["max"] >= 0
    assert set(store.done()) == {("two_moons", 1000, "ppl-npe")}
    fixed = FakeRunOne()
    monkeypatch.setattr(sbi, "run_one", fixed)
    sbi.run_all(settings, store)
    assert fixed.calls == [("two_moons", 1000, "ppl-npse")]
    assert "error" not in store.done()["two_moons", 1000, "ppl-npse"]


def test_failed_background_scoring_is_an_error_row(tmp_path):
    store = _store(tmp_path, _settings())
    scored, failed = Future(), Future()
    scored.set_result({"c2st": 0.51})
    failed.set_exception(RuntimeError("no reference"))
    running = Future()
    pending = [(_row("two_moons", 1000, "ppl-npe"), LOAD, scored),
               (_row("two_moons", 1000, "ppl-npse"), LOAD, failed),
               (_row("two_moons", 10000, "ppl-npe"), LOAD, running)]
    rest = sbi._store_scored(pending, store, {"git_revision": "abc"}, wait=False)
    assert [r[2] for r in rest] == [running]  # not finished: kept for later
    rows = store.rows()
    assert rows["two_moons", 1000, "ppl-npe"]["c2st"] == 0.51
    assert "no reference" in rows["two_moons", 1000, "ppl-npse"]["error"]
    assert set(store.done()) == {("two_moons", 1000, "ppl-npe")}


def test_other_settings_are_neither_done_nor_reported(tmp_path, fake):
    settings, other = _settings(), _settings("--observations", "3")
    _store(tmp_path, other).write(_row("two_moons", 1000, "ppl-npe", c2st=0.9), LOAD)
    _store(tmp_path, settings, revision="0").write(_row("two_moons", 1000, "ppl-npse", c2st=0.9), LOAD)
    store = _store(tmp_path, settings)
    assert store.done() == {}
    sbi.run_all(settings, store)
    assert fake.calls == [("two_moons", 1000, "ppl-npe"), ("two_moons", 1000, "ppl-npse")]
    assert {r["c2st"] for r in store.rows().values()} == {0.55}
    assert {r["c2st"] for r in _store(tmp_path, other).rows().values()} == {0.9}


def test_report_from_store_lists_missing_cells_and_load(tmp_path, fake):
    cells = tmp_path / "cells"
    settings = _settings("--budgets", "10000", "--only", "ppl-npe")
    _store(cells, settings).write(_row("slcp", 10000, "sbi-npe", c2st=0.91), LOAD | {"max": 11.0},
                                  under_load=True)
    sbi.main(["--models", "two_moons", "--budgets", "10000", "--only", "ppl-npe",
              "--cells", str(cells), "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "sbi.json").read_text())
    assert [(r["task"], r["contender"]) for r in saved["runs"]] == [("two_moons", "ppl-npe"),
                                                                    ("slcp", "sbi-npe")]
    assert len(saved["missing"]) == 60 - 2 and ["slcp", 10000, "sbi-npe"] not in saved["missing"]
    report = (tmp_path / "sbi.md").read_text()
    assert ("Missing cells (58 of 60; run them next): "
            "two_moons 1000: ppl-npe, ppl-npse, sbi-npe, sbi-npse;") in report
    assert "two_moons 10000: ppl-npse, sbi-npe, sbi-npse;" in report
    assert "| slcp | 10000 | sbi-npe | 0.910 | 10.0 | 1.0 | 500 | 11.0 (under load) |" in report
    assert "| slcp | 0.901 | 0.912" not in report and "| — | 10.0* |" in report  # starred time


def test_missing_line_when_complete():
    assert sbi_report.missing_line([], 8) == "Missing cells: none (all 8 cells of the table are done)."


def test_plan_estimates_scale_training_linearly():
    done = {("two_moons", 1000, "ppl-npe"): _row("two_moons", 1000, "ppl-npe", wall_s=100.0,
                                                  training_s=40.0, simulation_s=10.0),
            ("two_moons", 10000, "ppl-npe"): _row("two_moons", 10000, "ppl-npe", wall_s=300.0,
                                                   training_s=200.0),
            ("slcp", 10000, "ppl-npe"): _row("slcp", 10000, "ppl-npe", wall_s=500.0, training_s=100.0)}
    # own task: from the largest smaller budget; 100 s stays, 200 s of training x 10
    assert sbi_report.estimate_s(("two_moons", 100000, "ppl-npe"), done) == pytest.approx(2100.0)
    # other tasks, each from its largest budget up to this one: two_moons 300 s, slcp 500 s
    assert sbi_report.estimate_s(("bernoulli_glm", 10000, "ppl-npe"), done) == pytest.approx(400.0)
    # only a smaller budget elsewhere: 50 s fixed + 50 s of training and simulation x 10
    assert sbi_report.estimate_s(("slcp", 10000, "ppl-npe"), {
        k: v for k, v in done.items() if k[1] == 1000}) == pytest.approx(550.0)
    assert sbi_report.estimate_s(("two_moons", 1000, "sbi-npe"), done) is None
    text = sbi_report.plan_text([("two_moons", 100000, "ppl-npe"), ("bernoulli_glm", 10000, "ppl-npe"),
                                 ("two_moons", 1000, "sbi-npe")], done)
    assert "~35.0 min" in text and "unknown" in text
    assert text.endswith("3 cells missing, 3 done; estimated 0.7 h plus 1 cells without an estimate.")


def test_plan_prints_missing_and_runs_nothing(tmp_path, fake, capsys):
    sbi.main(["--models", "two_moons", "--budgets", "1000", "--only", "ppl-npe,ppl-npse",
              "--cells", str(tmp_path), "--out", str(tmp_path), "--plan"])
    out = capsys.readouterr().out
    assert fake.calls == [] and not (tmp_path / "sbi.md").exists()
    assert out.count("unknown") == 2 and "2 cells missing, 0 done" in out


def test_migration_keeps_settings_and_marks_load(tmp_path):
    saved = json.loads(SAVED_1E4.read_text())
    paths = sbi_cells.migrate(saved, tmp_path, under_load=True, source="sbi_1e4")
    assert len(paths) == len(saved["runs"]) == 4
    store = CellStore(tmp_path, CellSettings.of(saved["settings"]))
    rows = store.done()
    assert {c: r["c2st"] for c, r in rows.items()} == {
        sbi_cells.cell_of(r): r["c2st"] for r in saved["runs"]}
    assert all(r["under_load"] for r in rows.values())
    assert store.settings.observations == 10 and store.settings.c2st_engine == "jax"


def test_under_load_threshold():
    assert is_under_load({"max": 3.1}, cores=2)
    assert not is_under_load({"max": 2.9}, cores=2)


def test_report_flag_writes_the_table_from_the_store_and_runs_nothing(tmp_path, fake):
    settings = _settings()
    _store(tmp_path / "cells", settings).write(_row("two_moons", 1000, "ppl-npe", c2st=0.66), LOAD)
    sbi.main(["--models", "two_moons", "--budgets", "1000", "--only", "ppl-npe,ppl-npse",
              "--cells", str(tmp_path / "cells"), "--out", str(tmp_path), "--report"])
    saved = json.loads((tmp_path / "sbi.json").read_text())
    assert fake.calls == []
    assert [(r["task"], r["contender"], r["c2st"]) for r in saved["runs"]] == [("two_moons", "ppl-npe", 0.66)]
    assert ["two_moons", 1000, "ppl-npse"] in saved["missing"]


def test_within_starts_only_cells_whose_estimate_fits(tmp_path, fake, capsys):
    settings = _settings("--budgets", "1000,10000")
    store = _store(tmp_path, settings)
    # ppl-npe 10^4 is estimated from its 10^3 row: 20 - 10 + 10 x 10 = 110 s; ppl-npse has no row.
    store.write(_row("two_moons", 1000, "ppl-npe"), LOAD)
    now = sbi.time.time()
    sbi.run_all(settings, store, deadline=now + 60.0)
    assert fake.calls == []  # 110 s does not fit in 60; an unknown estimate never fits
    err = capsys.readouterr().err
    assert "skip two_moons 10000 ppl-npe: its estimate does not end within" in err
    assert "skip two_moons 1000 ppl-npse: its estimate does not end within" in err
    sbi.run_all(settings, store, deadline=now + 200.0)
    assert fake.calls == [("two_moons", 10000, "ppl-npe")]
    assert sbi.fits(("two_moons", 1000, "ppl-npse"), {}, None)  # no deadline: everything runs


def test_paired_difference_uses_the_per_observation_gaps():
    ours = {"c2st_per_observation": {"1": 0.60, "2": 0.70, "3": 0.65}}
    theirs = {"c2st_per_observation": {"1": 0.55, "2": 0.66, "3": 0.58, "4": 0.9}}
    # gaps 0.05, 0.04, 0.07 on the shared observations: mean 0.0533, sd 0.01528, se 0.00882
    assert sbi_report.paired_difference(ours, theirs) == "+0.053 ± 0.009"
    assert sbi_report.paired_difference(ours, None) == "—"
    assert sbi_report.paired_difference(ours, {"c2st_per_observation": {"1": 0.5}}) == "—"
