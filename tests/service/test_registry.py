from __future__ import annotations

import json
import shutil
from pathlib import Path

from service.config import Settings
from service.registry import Registry
from tests.conftest import SHIPPED


def _registry(models_dir: Path) -> Registry:
    registry = Registry(Settings(models_dir=models_dir, _env_file=None))  # type: ignore[call-arg]
    registry.reload()
    return registry


def test_registry_loads_shipped_models(models_copy: Path) -> None:
    registry = _registry(models_copy)
    assert sorted(registry.models) == sorted(SHIPPED)
    assert registry.refused == {}
    assert registry.get("sines").providers == ["CPUExecutionProvider"]  # type: ignore[union-attr]


def test_registry_sha256_mismatch_is_refused_and_others_load(models_copy: Path) -> None:
    v = SHIPPED["sines"]
    for old in range(1, v):  # older versions would be served instead: drop them
        shutil.rmtree(models_copy / "sines" / str(old), ignore_errors=True)
    onnx = models_copy / "sines" / str(v) / "model.onnx"
    onnx.write_bytes(onnx.read_bytes() + b"\0")
    registry = _registry(models_copy)
    assert sorted(registry.models) == sorted(set(SHIPPED) - {"sines"})
    assert registry.refused[f"sines/{v}"].startswith("sha256 of model.onnx is ")


def test_registry_serves_highest_good_version(models_copy: Path) -> None:
    v = SHIPPED["sines"]
    new = models_copy / "sines" / str(v + 1)
    shutil.copytree(models_copy / "sines" / str(v), new)
    manifest = json.loads((new / "manifest.json").read_text())
    manifest["version"] = v + 1
    (new / "manifest.json").write_text(json.dumps(manifest))
    assert _registry(models_copy).get("sines").manifest.version == v + 1  # type: ignore[union-attr]


def test_registry_bad_new_version_falls_back_to_old(models_copy: Path) -> None:
    v = SHIPPED["sines"]
    shutil.copytree(models_copy / "sines" / str(v), models_copy / "sines" / str(v + 1))
    registry = _registry(models_copy)  # the copy's manifest still says version v
    assert registry.get("sines").manifest.version == v  # type: ignore[union-attr]
    assert (
        registry.refused[f"sines/{v + 1}"]
        == f"manifest says sines/{v} but it lives in sines/{v + 1}"
    )


def test_registry_invalid_manifest_is_refused(models_copy: Path) -> None:
    for old in range(1, SHIPPED["etth1_ot"]):
        shutil.rmtree(models_copy / "etth1_ot" / str(old), ignore_errors=True)
    path = models_copy / "etth1_ot" / str(SHIPPED["etth1_ot"]) / "manifest.json"
    raw = json.loads(path.read_text())
    raw["task"] = "classify"
    path.write_text(json.dumps(raw))
    registry = _registry(models_copy)
    assert "etth1_ot" not in registry.models
    assert registry.refused[f"etth1_ot/{SHIPPED['etth1_ot']}"].startswith(
        "manifest is invalid at 'task'"
    )


def test_registry_corrupt_onnx_is_refused(models_copy: Path) -> None:
    version = models_copy / "sines" / str(SHIPPED["sines"])
    (version / "model.onnx").write_bytes(b"not an onnx file")
    raw = json.loads((version / "manifest.json").read_text())
    from service.manifest import file_sha256

    raw["onnx"]["sha256"] = file_sha256(version / "model.onnx")
    (version / "manifest.json").write_text(json.dumps(raw))
    registry = _registry(models_copy)
    assert registry.refused[f"sines/{SHIPPED['sines']}"].startswith(
        "ONNX Runtime cannot load model.onnx"
    )


def test_registry_missing_directory_serves_nothing(tmp_path: Path) -> None:
    registry = _registry(tmp_path / "absent")
    assert registry.models == {} and registry.refused == {}
