"""bench-classifier scores the newest export of each shipped generator, refuses one that its
config does not describe, and writes one row per model with every classifier length."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import classifier
from tests.conftest import REPO


def test_the_newest_version_is_scored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for version in ("2", "10", "9"):
        (tmp_path / "energy" / version).mkdir(parents=True)
    (tmp_path / "energy" / "notes").mkdir()
    monkeypatch.setattr(classifier, "MODELS", tmp_path)
    assert classifier.newest("energy").name == "10"  # by number, not by name


def test_an_export_its_config_does_not_describe_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "energy" / "99"
    model.mkdir(parents=True)
    (model / "manifest.json").write_text(json.dumps({"version": 99}))
    monkeypatch.setattr(classifier, "MODELS", tmp_path)
    monkeypatch.chdir(REPO)
    with pytest.raises(SystemExit, match="make bench-generation"):
        classifier.windows("energy")


def test_the_doc_has_a_row_per_model_and_a_column_per_length() -> None:
    def scores(synthetic: float, floor: float) -> dict[str, object]:
        return {
            "synthetic": {"mean": synthetic, "std": 0.01, "runs": [synthetic] * 3},
            "real_floor": {"mean": floor, "std": 0.0, "runs": [floor] * 3},
        }

    results = {
        "sines": {"model": "sines/3", "2000": scores(0.012, 0.004), "8000": scores(0.015, 0.005)},
        "energy": {"model": "energy/2", "2000": scores(0.2, 0.006), "8000": scores(0.47, 0.014)},
    }
    doc = classifier.document(results, {"commit": None})
    assert doc.startswith(classifier.BEGIN) and doc.endswith(classifier.END)
    assert "| model | disc, 2,000 steps (floor) | disc, 8,000 steps (floor) |" in doc
    assert "| energy/2 | 0.200 ± 0.010 (0.006) | 0.470 ± 0.010 (0.014) |" in doc
    assert "mean ± std over 3 classifier seeds" in doc
