"""The code version lines of benchmarks/common.py that go into results files and docs."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.common import code_line, hardware, kept, write_merged


def test_code_line_clean_and_dirty_runs() -> None:
    clean = {
        "commit": "0123456789abcdef",
        "dirty": False,
        "dirty_files": {},
        "utc": "2026-12-04T17:00:00Z",
    }
    assert code_line(clean) == (
        "Code: commit 0123456789, run 2026-12-04T17:00:00Z; `make docs-check` says whether the "
        "code has changed since."
    )
    files = {f"training/{n}.py": "b" for n in "dcba"}
    dirty = {**clean, "dirty": True, "dirty_files": files}
    assert code_line(dirty).startswith(
        "Code: commit 0123456789 with uncommitted changes to training/a.py, training/b.py, "
        "training/c.py and 1 more, run 2026-12-04T17:00:00Z;"
    )


def test_code_line_without_a_recorded_commit() -> None:
    assert code_line({"cpu_count": 2}).startswith("Code: not recorded (results written before")


def test_hardware_leaves_out_the_code_version() -> None:
    env = {
        "cpu_count": 2,
        "commit": "c",
        "dirty": False,
        "dirty_files": {},
        "utc": "t",
        "gpu": "none",
    }
    assert hardware(env) == "cpu_count=2, gpu=none"


def test_kept_marks_results_measured_before_code_was_recorded() -> None:
    version = {"commit": "c", "utc": "t"}
    assert kept({"old": {"a": 1}, "new": {"a": 2, "code": version}}) == {
        "old": {"code": {"commit": None, "utc": None}, "a": 1},
        "new": {"code": version, "a": 2},
    }


def test_write_merged_keeps_cases_written_meanwhile_in_order(tmp_path: Path) -> None:
    """The file is read when writing, not when the run started: a case another `--only` run
    wrote meanwhile stays (marked as measured on unrecorded code), in the given order."""
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"environment": {}, "results": {"b": {"x": 1}, "a": {"x": 0}}}))
    results, env = write_merged(path, {"a": {"x": 2}}, ["a", "b", "c"])
    assert results == {"a": {"x": 2}, "b": {"code": {"commit": None, "utc": None}, "x": 1}}
    assert json.loads(path.read_text()) == {"environment": env, "results": results}
    results, _ = write_merged(path, {"c": {"x": 3}})
    assert list(results) == ["a", "b", "c"] and results["c"] == {"x": 3}


def test_bench_forecast_keeps_the_sections_other_benchmarks_write(tmp_path: Path) -> None:
    """docs/forecast.md is rewritten by bench-forecast; the blocks of bench-panel,
    bench-covariates, bench-static, bench-short and bench-panel-scale in it survive."""
    from benchmarks import covariates, forecast, panel, panel_scale, short, statics

    modules = (panel, covariates, statics, short, panel_scale)
    doc = tmp_path / "forecast.md"
    blocks = "".join(f"{m.BEGIN}\n{m.__name__}\n{m.END}\n" for m in modules)
    doc.write_text("# old table\n" + blocks)
    kept = forecast._panel_block(doc)
    assert "old table" not in kept
    assert all(f"{m.BEGIN}\n{m.__name__}\n{m.END}" in kept for m in modules)


def test_bench_forecast_compares_the_shipped_config_with_one_series_and_forgan_v1() -> None:
    """The comparison rows train configs/etth1_ot.toml on OT alone, with the shipped recipe and
    with the ForGAN-class model of version 2: the same split and settings otherwise, each in
    its own run directory (the shipped run untouched)."""
    import dataclasses

    from benchmarks import forecast
    from training.config import load_config
    from training.families import family_for

    shipped = load_config("configs/etth1_ot.toml")
    assert shipped.model.kind != "forgan_v1" and "OT" in shipped.data.columns
    alone, v1 = forecast.comparisons(shipped)
    assert len({shipped.run_dir, alone.run_dir, v1.run_dir}) == 3
    assert alone.data.columns == v1.data.columns == ()
    assert dataclasses.replace(alone.data, columns=shipped.data.columns) == shipped.data
    assert alone.model == shipped.model and v1.model.kind == "forgan_v1"
    assert dataclasses.replace(v1.model, kind=shipped.model.kind) == shipped.model
    assert alone.train == v1.train == shipped.train
    assert {family_for(c).name for c in (shipped, alone, v1)} == {"forgan"}


def test_a_reused_run_reports_the_code_that_trained_it(tmp_path: Path, monkeypatch) -> None:
    """--reuse: the result names the code recorded when the run was trained, and a run with no
    such record is refused (its figures would name code that never trained it)."""
    import pytest

    import training.evaluate.run as run_module
    from benchmarks.common import TRAINED_ON, train_and_evaluate
    from training.checkpoint import CHECKPOINT

    config = type("Config", (), {"run_dir": tmp_path})()
    (tmp_path / CHECKPOINT).write_bytes(b"")
    (tmp_path / "training.json").write_text(json.dumps({"seconds": 12.5}))
    monkeypatch.setattr(run_module, "evaluate_run", lambda run_dir: {"ok": True})
    with pytest.raises(SystemExit, match="no record of the code that trained it"):
        train_and_evaluate(config, reuse=True)
    trained = {"commit": "0123456789abcdef", "dirty": False, "dirty_files": {}, "utc": "x"}
    (tmp_path / TRAINED_ON).write_text(json.dumps(trained))
    timings, metrics = train_and_evaluate(config, reuse=True)
    assert timings["trained_on"] == trained and timings["train_seconds"] == 12.5
    assert metrics == {"ok": True}


def test_bench_generation_refuses_unknown_data_sets_before_training(monkeypatch, capsys) -> None:
    """`--only` and `--force` name data sets of benchmarks.generation.DATASETS; a typo is a usage
    error before anything trains (not a config error an hour into the run)."""
    import sys

    import pytest

    from benchmarks import generation

    def trained(*args: object, **kwargs: object) -> None:
        raise AssertionError("a data set trained before its names were checked")

    monkeypatch.setattr(generation, "run_one", trained)
    for args in (["--only", "sines,energi"], ["--only", "sines", "--force", "enrgy"]):
        monkeypatch.setattr(sys, "argv", ["generation", *args])
        with pytest.raises(SystemExit) as exit_info:
            generation.main()
        assert exit_info.value.code == 2
        assert "unknown data set(s)" in capsys.readouterr().err
