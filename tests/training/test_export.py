from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rnngan.core.manifest import Manifest
from rnngan.core.noise import series_noise
from service.config import Settings
from service.inference import forecast_samples, generate
from service.registry import Registry
from tests.training.helpers import tiny_forecast, tiny_generate, tiny_timegan
from training.checkpoint import load_run
from training.evaluate.run import evaluate_run
from training.evaluate.versus import SPREAD_GRID
from training.export import export, parity, parity_error
from training.families import build_graph, family_for
from training.train import train


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("export")
    out = {}
    for config in (
        tiny_generate(root / "runs"),
        tiny_forecast(root / "runs"),
        tiny_timegan(root / "runs"),
    ):
        train(config, progress=False)
        evaluate_run(config.run_dir)
        key = "timegan" if config.model.kind == "timegan" else config.task
        # Tiny runs may well look collapsed to the verdict; these tests are about export.
        out[key] = export(config.run_dir, root / "models", force=True)
    out["root"] = root
    return out


RUNS = {"generate": "tiny_sines", "forecast": "tiny_ot", "timegan": "tiny_timegan"}


@pytest.mark.parametrize("task", ["generate", "forecast", "timegan"])
def test_export_parity_at_other_batch_sizes_and_lengths(
    exported: dict[str, Path], task: str
) -> None:
    import onnxruntime as ort

    run_dir = exported["root"] / "runs" / RUNS[task]
    ckpt = load_run(run_dir)
    graph = build_graph(ckpt)
    onnx_path = exported[task] / "model.onnx"
    # Export used batch 4 and the training length; check quite different shapes (atol 1e-5).
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    for batch, length in ((1, 1), (2, 5), (33, 100)):
        example = family_for(ckpt.config).example_inputs(ckpt, batch, length)
        with torch.no_grad():
            expected = graph(*example.values()).numpy()
        (got,) = session.run(None, {k: v.numpy() for k, v in example.items()})
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    assert parity(graph, ckpt, onnx_path) < 1e-5


def test_export_manifest_loads_in_registry_with_metrics(exported: dict[str, Path]) -> None:
    registry = Registry(Settings(models_dir=exported["root"] / "models", _env_file=None))  # type: ignore[call-arg]
    registry.reload()
    assert registry.refused == {}
    assert sorted(registry.models) == ["tiny_ot", "tiny_sines", "tiny_timegan"]
    gen = Manifest.read(exported["generate"] / "manifest.json")
    assert gen.seq_len == 12 and gen.latent_dim == 3 and gen.scaler.kind == "minmax"
    assert set(gen.metrics) >= {"discriminative", "predictive", "onnx_parity_max_scaled_diff"}
    fc = Manifest.read(exported["forecast"] / "manifest.json")
    assert (fc.context_len, fc.horizon, fc.features) == (48, 12, ["OT"])
    assert {"test_crps", "test_mase", "test_coverage_80", "test"} <= set(fc.metrics)
    assert set(fc.metrics["test"]) == {"gan", "gan_uncalibrated", "seasonal_naive", "AutoETS"}
    assert fc.calibration is not None
    assert round(SPREAD_GRID[0], 4) <= fc.calibration.spread_scale <= round(SPREAD_GRID[-1], 4)


def test_export_service_matches_torch_graph(exported: dict[str, Path]) -> None:
    registry = Registry(Settings(models_dir=exported["root"] / "models", _env_file=None))  # type: ignore[call-arg]
    registry.reload()
    gen = registry.get("tiny_sines")
    assert gen is not None
    graph = build_graph(load_run(exported["root"] / "runs" / "tiny_sines"))
    served = generate(gen, n=5, length=9, seed=3)
    with torch.no_grad():
        expected = graph(torch.from_numpy(series_noise(3, 0, 5, 9, 3))).numpy()
    np.testing.assert_allclose(served, expected, atol=1e-5)

    fc = registry.get("tiny_ot")
    assert fc is not None
    fgraph = build_graph(load_run(exported["root"] / "runs" / "tiny_ot"))
    history = np.linspace(10, 20, 48, dtype=np.float32)[None]
    paths = forecast_samples(fc, history, horizon=7, num_samples=4, seed=2)
    with torch.no_grad():
        expected = fgraph(
            torch.from_numpy(history), torch.from_numpy(series_noise(2, 0, 4, 7, 2)[None])
        ).numpy()
    assert paths.shape == (1, 4, 7)
    np.testing.assert_allclose(paths, expected, atol=1e-4)


def test_export_is_byte_reproducible(exported: dict[str, Path], tmp_path: Path) -> None:
    again = export(exported["root"] / "runs" / "tiny_sines", tmp_path, force=True)
    for name in ("model.onnx", "manifest.json"):
        assert (again / name).read_bytes() == (exported["generate"] / name).read_bytes()


def test_export_timegan_metrics_and_projection(exported: dict[str, Path]) -> None:
    manifest = Manifest.read(exported["timegan"] / "manifest.json")
    assert manifest.training["model"]["kind"] == "timegan"
    assert {
        "autocorrelation_error",
        "cross_correlation_error",
        "discriminative_real_floor",
        "predictive_real_floor",
    } <= set(manifest.metrics)
    assert (exported["root"] / "runs" / "tiny_timegan" / "projection.png").stat().st_size > 10_000


def test_export_writes_the_quality_report(exported: dict[str, Path]) -> None:
    import json

    report = json.loads((exported["generate"] / "report.json").read_text())
    assert report["evaluated"] is True and report["model"] == "tiny_sines"
    assert report["verdict"]["line"].startswith(("PASS", "FAIL"))
    labels = {s["score"] for s in report["scores"]}
    assert "discriminative (per-window z-scored)" in labels
    assert all(s["runs"] >= 5 for s in report["scores"] if "discriminative" in s["score"])
    page = (exported["generate"] / "report.html").read_text()
    assert report["verdict"]["line"].split(":")[0] in page and "<table>" in page
    # The registry serves the version with the extra files beside it.
    registry = Registry(Settings(models_dir=exported["root"] / "models", _env_file=None))  # type: ignore[call-arg]
    registry.reload()
    assert registry.refused == {} and "tiny_sines" in registry.models


def test_export_refuses_collapse_unless_forced(exported: dict[str, Path], tmp_path: Path) -> None:
    import json
    import shutil

    from training.export import QualityRefused

    run = tmp_path / "tiny_sines"
    shutil.copytree(exported["root"] / "runs" / "tiny_sines", run)
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["verdict"] = {
        "passed": False,
        "line": "FAIL: 1 of 9 quality checks fail: x: spread = 0.001",
        "failed": ["x: spread (synthetic / real)"],
        "collapse_suspected": True,
    }
    (run / "metrics.json").write_text(json.dumps(metrics))
    with pytest.raises(QualityRefused, match="collapsed generator"):
        export(run, tmp_path / "models")
    assert not (tmp_path / "models" / "tiny_sines").exists()
    out = export(run, tmp_path / "models", force=True)
    assert json.loads((out / "report.json").read_text())["verdict"]["collapse_suspected"]


def test_export_says_when_never_evaluated(exported: dict[str, Path], tmp_path: Path) -> None:
    import json
    import shutil

    run = tmp_path / "tiny_sines"
    shutil.copytree(exported["root"] / "runs" / "tiny_sines", run)
    (run / "metrics.json").unlink()
    out = export(run, tmp_path / "models")
    report = json.loads((out / "report.json").read_text())
    assert report["evaluated"] is False
    assert report["verdict"]["line"].startswith("NOT EVALUATED")


def test_parity_error_is_relative_to_each_channels_magnitude() -> None:
    """A volume channel spanning 8e7: float32 rounding of the range (8 units) is no error even
    where the value itself is small; on an order-one channel 1e-4 is."""
    expected = np.array([[[0.5, 5e5], [0.2, 8e7]]], dtype=np.float32)  # (1, 2 steps, 2 channels)
    volume_off = expected + np.array([0.0, 8.0], dtype=np.float32)
    assert parity_error(volume_off, expected) < 1e-6
    level_off = expected + np.array([1e-4, 0.0], dtype=np.float32)
    assert parity_error(level_off, expected) == pytest.approx(1e-4 / 1.5, rel=1e-3)
