from __future__ import annotations

import json
import shutil
from pathlib import Path

from service.config import Settings
from service.registry import Registry


def _registry(models_dir: Path) -> Registry:
    registry = Registry(Settings(models_dir=models_dir, _env_file=None))  # type: ignore[call-arg]
    registry.reload()
    return registry


def test_registry_loads_shipped_models(models_copy: Path) -> None:
    registry = _registry(models_copy)
    assert sorted(registry.models) == ["etth1_ot", "sines"]
    assert registry.refused == {}
    assert registry.get("sines").providers == ["CPUExecutionProvider"]  # type: ignore[union-attr]


def test_registry_sha256_mismatch_is_refused_and_others_load(models_copy: Path) -> None:
    onnx = models_copy / "sines" / "1" / "model.onnx"
    onnx.write_bytes(onnx.read_bytes() + b"\0")
    registry = _registry(models_copy)
    assert sorted(registry.models) == ["etth1_ot"]
    assert registry.refused["sines/1"].startswith("sha256 of model.onnx is ")


def test_registry_serves_highest_good_version(models_copy: Path) -> None:
    v1 = models_copy / "sines" / "1"
    v2 = models_copy / "sines" / "2"
    shutil.copytree(v1, v2)
    manifest = json.loads((v2 / "manifest.json").read_text())
    manifest["version"] = 2
    (v2 / "manifest.json").write_text(json.dumps(manifest))
    assert _registry(models_copy).get("sines").manifest.version == 2  # type: ignore[union-attr]


def test_registry_bad_new_version_falls_back_to_old(models_copy: Path) -> None:
    v2 = models_copy / "sines" / "2"
    shutil.copytree(models_copy / "sines" / "1", v2)  # manifest still says version 1
    registry = _registry(models_copy)
    assert registry.get("sines").manifest.version == 1  # type: ignore[union-attr]
    assert registry.refused["sines/2"] == "manifest says sines/1 but it lives in sines/2"


def test_registry_invalid_manifest_is_refused(models_copy: Path) -> None:
    path = models_copy / "etth1_ot" / "1" / "manifest.json"
    raw = json.loads(path.read_text())
    raw["task"] = "classify"
    path.write_text(json.dumps(raw))
    registry = _registry(models_copy)
    assert "etth1_ot" not in registry.models
    assert registry.refused["etth1_ot/1"].startswith("manifest is invalid at 'task'")


def test_registry_corrupt_onnx_is_refused(models_copy: Path) -> None:
    version = models_copy / "sines" / "1"
    (version / "model.onnx").write_bytes(b"not an onnx file")
    raw = json.loads((version / "manifest.json").read_text())
    from service.manifest import file_sha256

    raw["onnx"]["sha256"] = file_sha256(version / "model.onnx")
    (version / "manifest.json").write_text(json.dumps(raw))
    registry = _registry(models_copy)
    assert registry.refused["sines/1"].startswith("ONNX Runtime cannot load model.onnx")


def test_registry_missing_directory_serves_nothing(tmp_path: Path) -> None:
    registry = _registry(tmp_path / "absent")
    assert registry.models == {} and registry.refused == {}
