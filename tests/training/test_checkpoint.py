"""The typed checkpoint: it still reads the run directories written before it existed (one
fixture per family, tests/training/fixtures/legacy, written by the pre-#14 code with the
graph's output on fixed inputs), and what it saves loads back the same."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from rnngan.core.manifest import Manifest
from tests.training.helpers import tiny_forecast
from training.checkpoint import CHECKPOINT, FORMAT, Checkpoint, Selection, load_run
from training.export import export
from training.families import FAMILIES, build_graph, family_for
from training.provenance import recorded_config
from training.train import train

LEGACY = Path(__file__).parent / "fixtures" / "legacy"
# Families added after the typed checkpoint (#14) never wrote an untyped one.
SINCE_TYPED = {"image", "image_uncond", "text_image"}
LEGACY_FAMILIES = sorted(set(FAMILIES) - SINCE_TYPED)


@pytest.mark.parametrize("name", LEGACY_FAMILIES)
def test_checkpoint_legacy_run_rebuilds_the_same_graph(name: str) -> None:
    raw = torch.load(LEGACY / f"{name}.pt", weights_only=False)
    assert "format" not in raw  # written before the typed checkpoint
    ckpt = Checkpoint.load(LEGACY / f"{name}.pt")
    assert family_for(ckpt.config).name == name
    expected = np.load(LEGACY / f"{name}.npz")
    inputs = [torch.from_numpy(expected[k]) for k in FAMILIES[name].graph_io[0]]
    with torch.no_grad():
        got = build_graph(ckpt)(*inputs).numpy()
    # float32 rounding only: a few ulps, relative for outputs in data units (~20 here), where
    # the CPU's float kernels may differ from those that wrote the fixture.
    np.testing.assert_allclose(got, expected["output"], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", LEGACY_FAMILIES)
def test_checkpoint_legacy_run_exports_the_same_manifest(tmp_path: Path, name: str) -> None:
    """Every field the checkpoint feeds (features, scaler, shapes, freq, selection, data set,
    table) comes out as the pre-#14 export wrote it."""
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(LEGACY / f"{name}.pt", run / CHECKPOINT)
    out = Manifest.read(export(run, tmp_path / "models") / "manifest.json")
    before = Manifest.read(LEGACY / f"{name}.manifest.json")
    skip = {"onnx", "metrics", "calibration"}  # metrics.json is not part of the fixture
    now, then = out.model_dump(exclude=skip), before.model_dump(exclude=skip)
    # The old manifest's config as the exporter records one now (training/provenance.py: the
    # file by name, only the options that apply); options added since the fixture was written
    # appear with their defaults: compare what the old run had, every value of it.
    then["training"] = recorded_config(then["training"])
    now["training"] = _only_keys_of(now["training"], then["training"])
    assert now == then


def _only_keys_of(new: Any, old: Any) -> Any:
    if isinstance(new, dict) and isinstance(old, dict):
        return {k: _only_keys_of(new.get(k, "<missing>"), old[k]) for k in old}
    return new


def test_checkpoint_legacy_fields_take_the_old_fallbacks() -> None:
    forgan = Checkpoint.load(LEGACY / "forgan.pt")
    assert forgan.selection is not None and forgan.selection.step in range(10, 51, 10)
    assert forgan.freq == "h" and forgan.features == ["OT"]
    assert forgan.dataset.train_rows == [0, 600]
    table = Checkpoint.load(LEGACY / "table_gan.pt")
    assert table.table is not None and table.seq_len == 24 and table.freq is None
    assert Checkpoint.load(LEGACY / "timegan.pt").phase == "joint"
    rcgan = Checkpoint.load(LEGACY / "rcgan.pt")
    assert rcgan.seq_len == 12 and rcgan.data_min == [0.0] * 5 and rcgan.selection is None


def test_checkpoint_save_then_load_is_the_same(tmp_path: Path) -> None:
    config = tiny_forecast(tmp_path)
    config = replace(config, train=replace(config.train, select_every=1, select_samples=3))
    train(config, progress=False)
    raw = torch.load(config.run_dir / CHECKPOINT, weights_only=False)
    assert raw["format"] == FORMAT
    ckpt = load_run(config.run_dir)
    assert isinstance(ckpt.selection, Selection) and ckpt.selection.step in (0, 1, 2)
    again = Checkpoint.from_dict(ckpt.to_dict())
    assert again.to_dict().keys() == raw.keys()
    for key in ("config", "step", "features", "dataset", "seq_len", "freq"):
        assert json.dumps(again.to_dict()[key]) == json.dumps(raw[key])
    for k, v in raw["generator"].items():
        assert torch.equal(again.generator[k], v)


def test_checkpoint_missing_run_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="run `rnngan train` first"):
        load_run(tmp_path)
