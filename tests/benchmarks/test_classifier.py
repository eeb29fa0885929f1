"""bench-classifier scores the newest export of each shipped generator, refuses one that its
config does not describe, and writes one row per model with every classifier length."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
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


def test_a_data_set_without_an_export_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(classifier, "MODELS", tmp_path)
    with pytest.raises(SystemExit, match="no exported version of energy"):
        classifier.newest("energy")


def test_the_channel_that_differs_is_found_alone_and_set_aside() -> None:
    """Four channels of random walks; the synthetic copy's last one is stuck at zero. Only that
    channel is found alone, and without it the full classifier is back at its floor."""
    rng = np.random.default_rng(0)

    def walks(n: int) -> np.ndarray:
        steps = rng.normal(0.0, 0.02, (n, 12, 4))
        return (np.cumsum(steps, axis=1) + rng.uniform(0.3, 0.7, (n, 1, 4))).astype(np.float32)

    real, fake, other = walks(600), walks(600), walks(600)
    fake[..., 3] = 0.0
    out = classifier.by_channel((real, fake, other), ["a", "b", "c", "stuck"], 300, 1, 300, 1)
    assert out["hidden_size"] == 2  # the full data's width, F/2
    assert out["found"] == ["stuck"]
    assert out["alone"]["stuck"]["synthetic"]["mean"] > 0.4
    assert out["rest"]["channels"] == 3
    floor = out["alone"]["a"]["real_floor"]["mean"]
    assert out["rest"]["synthetic"]["mean"] == pytest.approx(floor, abs=0.05)


def test_the_channels_doc_lists_the_found_ones_first() -> None:
    def alone(synthetic: float, floor: float) -> dict[str, object]:
        return {
            "synthetic": {"mean": synthetic, "std": 0.02, "runs": [synthetic] * 2},
            "real_floor": {"mean": floor, "std": 0.0, "runs": [floor] * 2},
        }

    channels = {
        "steps": 4000,
        "hidden_size": 14,
        "alone": {"T1": alone(0.02, 0.01), "lights": alone(0.33, 0.01), "wind": alone(0.36, 0.02)},
        "found": ["lights", "wind"],
        "rest": {
            "steps": 8000,
            "channels": 1,
            "synthetic": {"mean": 0.08, "std": 0.03, "runs": [0.05, 0.11]},
        },
    }
    results = {"energy": {"model": "energy/2", "channels": channels}, "sines": {"model": "sines/3"}}
    doc = classifier.document_channels(results, {"commit": None})
    assert doc.startswith(classifier.CHANNELS_BEGIN) and doc.endswith(classifier.CHANNELS_END)
    row = (
        "| energy/2 | 4,000 × 2 | wind 0.360 ± 0.020 (0.020); lights 0.330 ± 0.020 (0.010) | "
        "T1 0.020 ± 0.020 (0.010) | 0.080 ± 0.030 (1 channels, 8,000 steps × 2) |"
    )
    assert row in doc
    assert "sines/3" not in doc  # a row measured before the per-channel breakdown is left out


@pytest.mark.parametrize(
    "argv", [["--channel-steps", "-5"], ["--steps", "2000,0"], ["--seeds", "0"]]
)
def test_step_counts_and_seeds_that_train_nothing_are_refused(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.argv", ["classifier", "--only", "energy", *argv])
    with pytest.raises(SystemExit) as exc:
        classifier.main()
    assert exc.value.code == 2 and "step counts" in capsys.readouterr().err
