"""What a manifest records of its run (training/provenance.py): the training file by name only,
no run directory, and only the options that applied to the model's task and data set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from examples.tables import mixed_table
from tests.conftest import MODELS
from training.provenance import applicable_data_keys, recorded_config

# Defaults of training/config.py that apply to some runs only: their presence on another model
# is the leak this module prevents.
FORECAST_ONLY = {"target", "context_len", "horizon", "season", "train_end", "val_end", "test_end"}
SHIPPED_MANIFESTS = sorted(MODELS.glob("*/*/manifest.json"))


def _paths_in(value: Any) -> list[str]:
    """Every string in a JSON value that looks like a file-system path."""
    if isinstance(value, dict):
        return [p for v in value.values() for p in _paths_in(v)]
    if isinstance(value, list):
        return [p for v in value for p in _paths_in(v)]
    if isinstance(value, str) and ("/" in value or "\\" in value) and " " not in value:
        return [value]
    return []


def _check_training(training: dict[str, Any]) -> None:
    task, data = training["task"], training["data"]
    assert "out_dir" not in training
    assert set(data) <= applicable_data_keys(task, data), sorted(data)
    assert _paths_in(data) == []
    if task != "forecast":
        assert FORECAST_ONLY.isdisjoint(data), sorted(FORECAST_ONLY & set(data))
        assert "patch_len" not in training["model"] and "num_samples" not in training["eval"]
    if data["dataset"] != "sines":
        assert "n_series" not in data
    if data["dataset"] != "table":
        assert "id_col" not in data and "val_share" not in data
        assert "short_histories" not in data and "table_head" not in training["model"]
    if training["model"].get("kind") != "timegan":
        assert "noise_skip" not in training["model"]
        assert "diff_relative" not in training["train"]
        assert "data_adv_weight" not in training["train"]
    assert recorded_config(training) == training  # nothing left to tidy


@pytest.mark.parametrize("path", SHIPPED_MANIFESTS, ids=lambda p: f"{p.parent.parent.name}")
def test_provenance_shipped_manifest_records_only_what_applies(path: Path) -> None:
    manifest = json.loads(path.read_text())
    _check_training(manifest["training"])
    assert _paths_in(manifest["dataset"]) == []


def test_provenance_shipped_manifests_are_all_checked() -> None:
    assert len(SHIPPED_MANIFESTS) >= 8


def test_provenance_recorded_config_keeps_what_each_run_reads() -> None:
    base = {"name": "x", "version": 1, "out_dir": "/home/me/runs", "model": {}, "eval": {}}
    series = recorded_config(
        {
            **base,
            "task": "forecast",
            "data": {"dataset": "etth1_ot", "path": "/home/me/ETTh1.csv", "target": "OT",
                     "train_end": 600, "n_series": 10_000, "val_share": 0.15, "seq_len": 24},
        }
    )  # fmt: skip
    assert series["data"] == {
        "dataset": "etth1_ot",
        "path": "ETTh1.csv",
        "target": "OT",
        "train_end": 600,
    }
    assert "out_dir" not in series
    table = recorded_config(
        {
            **base,
            "task": "forecast",
            "data": {"dataset": "table", "path": "C:\\data\\shop.csv", "id_col": "store",
                     "target": "visitors", "train_end": 8640, "val_share": 0.2, "freq": None},
        }
    )  # fmt: skip
    assert table["data"] == {
        "dataset": "table",
        "path": "shop.csv",
        "id_col": "store",
        "target": "visitors",
        "val_share": 0.2,
        "freq": None,
    }
    image = recorded_config(
        {**base, "task": "image", "data": {"dataset": "digits", "path": None, "seq_len": 24}}
    )
    assert image["data"] == {"dataset": "digits"}
    options = {
        "model": {"kind": "rcgan", "noise_skip": False},
        "train": {
            "diff_relative": False,
            "acf_weight": 0.0,
            "xcorr_weight": 1.0,
            "spread_weight": 1.0,
        },
    }
    gen = {**base, "task": "generate", "data": {"dataset": "stocks", "seq_len": 24}}
    assert recorded_config({**gen, **options})["model"] == {"kind": "rcgan"}
    assert recorded_config({**gen, **options})["train"] == {}
    options["model"]["kind"] = "timegan"
    assert recorded_config({**gen, **options})["model"] == {"kind": "timegan", "noise_skip": False}
    assert recorded_config({**gen, **options})["train"] == {
        "diff_relative": False,
        "acf_weight": 0.0,
        "xcorr_weight": 1.0,
        "spread_weight": 1.0,
    }
    forecast = {**base, "task": "forecast", "data": {"dataset": "etth1_ot"}}
    forecaster = {"model": {"kind": "panel"}, "train": options["train"]}
    assert recorded_config({**forecast, **forecaster})["train"] == {}


def test_provenance_cli_trained_model_leaks_no_path(tmp_path: Path) -> None:
    """`rnngan train --data` on a file in a temp dir, then `rnngan export`: the manifest names
    the file and nothing of the machine (no temp dir, no run dir), and carries no option that
    did not apply to a table generator."""
    from typer.testing import CliRunner

    from rnngan.cli import app

    data = tmp_path / "private" / "shop.csv"
    data.parent.mkdir()
    mixed_table(entities=4).to_csv(data, index=False)
    runs, models = tmp_path / "runs", tmp_path / "models"
    runner = CliRunner()
    args = ["train", "--data", str(data), "--id-col", "store", "--time-col", "date"]
    trained = runner.invoke(app, [*args, "--steps", "2", "--out-dir", str(runs)])
    assert trained.exit_code == 0, trained.output
    exported = runner.invoke(
        app, ["export", "--run", str(runs / "shop"), "--models-dir", str(models), "--force"]
    )
    assert exported.exit_code == 0, exported.output
    text = (models / "shop" / "1" / "manifest.json").read_text()
    assert str(tmp_path) not in text and "private" not in text
    manifest = json.loads(text)
    _check_training(manifest["training"])
    assert manifest["training"]["data"]["path"] == "shop.csv"
    assert manifest["dataset"]["source"] == "shop.csv"
    assert "n_series" not in manifest["training"]["data"]
    assert "target" not in manifest["training"]["data"]


def test_provenance_rules_name_every_data_option() -> None:
    """A new `[data]` option is recorded on every model until training/provenance.py says
    which runs read it: this test asks for that decision."""
    import dataclasses

    from training import provenance
    from training.config import DataConfig

    named = {"dataset", "path", "n_series", "seq_len", "freq"}
    for group in ("TABLE_KEYS", "FORECAST_KEYS", "SERIES_SPLIT_KEYS", "TABLE_SPLIT_KEYS"):
        named |= set(getattr(provenance, group))
    assert {f.name for f in dataclasses.fields(DataConfig)} - named == set()
