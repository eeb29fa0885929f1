"""Repository faults: stray names, manifests that disagree with their graph, paths out of the
version folder. Each is refused with a reason (or skipped), never raised, and the good models
still load."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rnngan.core.manifest import file_sha256
from service.config import Settings
from service.main import create_app
from service.registry import Registry
from tests.conftest import SHIPPED
from tests.service.versions import only_latest, write_manifest


def _registry(models_dir: Path) -> Registry:
    registry = Registry(Settings(models_dir=models_dir, _env_file=None))  # type: ignore[call-arg]
    registry.reload()
    return registry


@pytest.mark.parametrize("folder", ["²", "٣", "v3", "0", "3.0", "-1"])
def test_stray_version_folders_are_refused_with_a_reason(models_copy: Path, folder: str) -> None:
    (models_copy / "sines" / folder).mkdir()
    registry = _registry(models_copy)
    assert sorted(registry.models) == sorted(SHIPPED)
    assert registry.refused[f"sines/{folder}"]
    registry.reload()  # a second scan neither raises nor loses the good models
    assert sorted(registry.models) == sorted(SHIPPED)


def test_stray_files_are_refused_and_the_server_starts(models_copy: Path) -> None:
    (models_copy / "README.md").write_text("notes")
    (models_copy / "sines" / "7").write_text("not a folder")
    (models_copy / "²").mkdir()
    settings = Settings(models_dir=models_copy, _env_file=None)  # type: ignore[call-arg]
    with TestClient(create_app(settings)) as client:
        ready = client.get("/readyz").json()
        assert ready["status"] == "ready"
        assert {"README.md", "sines/7"} <= set(ready["refused"])
        assert sorted(m["name"] for m in ready["models"]) == sorted(SHIPPED)
        reload = client.post("/admin/reload")
        assert reload.status_code == 200


def _manifest(version_dir: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((version_dir / "manifest.json").read_text())


def test_wrong_latent_dim_is_refused(models_copy: Path) -> None:
    version = only_latest(models_copy, "sines")
    write_manifest(version, latent_dim=_manifest(version)["latent_dim"] + 3)
    registry = _registry(models_copy)
    assert "sines" not in registry.models
    assert "graph" in registry.refused[f"sines/{SHIPPED['sines']}"]


def test_fewer_features_than_the_graph_is_refused(models_copy: Path) -> None:
    version = only_latest(models_copy, "energy")
    raw = _manifest(version)
    features = raw["features"][:3]
    scaler = {**raw["scaler"], "data_min": raw["scaler"]["data_min"][:3]}
    scaler["data_max"] = raw["scaler"]["data_max"][:3]
    write_manifest(version, features=features, scaler=scaler)
    registry = _registry(models_copy)
    assert "energy" not in registry.models
    assert "shape" in registry.refused[f"energy/{SHIPPED['energy']}"]


def test_another_models_graph_is_refused(models_copy: Path) -> None:
    version = only_latest(models_copy, "sines")
    other = models_copy / "energy" / str(SHIPPED["energy"]) / "model.onnx"
    shutil.copyfile(other, version / "model.onnx")
    onnx = {**_manifest(version)["onnx"], "sha256": file_sha256(version / "model.onnx")}
    write_manifest(version, onnx=onnx)
    registry = _registry(models_copy)
    assert "sines" not in registry.models
    assert f"sines/{SHIPPED['sines']}" in registry.refused


@pytest.mark.parametrize("file", ["../../energy/1/model.onnx", "/etc/hostname", "sub/model.onnx"])
def test_onnx_file_outside_the_version_folder_is_refused(models_copy: Path, file: str) -> None:
    version = only_latest(models_copy, "sines")
    write_manifest(version, onnx={**_manifest(version)["onnx"], "file": file})
    registry = _registry(models_copy)
    assert "sines" not in registry.models
    assert "inside the version folder" in registry.refused[f"sines/{SHIPPED['sines']}"]


def test_readyz_shows_no_server_paths(models_copy: Path) -> None:
    version = only_latest(models_copy, "sines")
    (version / "model.onnx").write_bytes(b"not onnx")
    onnx = {**_manifest(version)["onnx"], "sha256": file_sha256(version / "model.onnx")}
    write_manifest(version, onnx=onnx)
    settings = Settings(models_dir=models_copy, _env_file=None)  # type: ignore[call-arg]
    with TestClient(create_app(settings)) as client:
        body = client.get("/readyz").text
    assert f"sines/{SHIPPED['sines']}" in body
    assert str(models_copy) not in body and str(models_copy.resolve()) not in body
