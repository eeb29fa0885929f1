from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from service.config import Settings
from service.registry import Registry
from tests.conftest import SHIPPED
from tests.service.versions import add_version, only_latest, write_manifest


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
    from rnngan.core.manifest import file_sha256

    raw["onnx"]["sha256"] = file_sha256(version / "model.onnx")
    (version / "manifest.json").write_text(json.dumps(raw))
    registry = _registry(models_copy)
    assert registry.refused[f"sines/{SHIPPED['sines']}"].startswith(
        "ONNX Runtime cannot load model.onnx"
    )


def test_registry_missing_directory_serves_nothing(tmp_path: Path) -> None:
    registry = _registry(tmp_path / "absent")
    assert registry.models == {} and registry.refused == {}


def test_registry_unknown_schema_version_is_refused_saying_so(models_copy: Path) -> None:
    latest = only_latest(models_copy, "sines")
    write_manifest(latest, schema_version=2, some_new_field=[1, 2])
    registry = _registry(models_copy)
    assert sorted(registry.models) == sorted(set(SHIPPED) - {"sines"})
    assert registry.refused == {
        f"sines/{SHIPPED['sines']}": "unknown schema_version 2 (this service reads 1)"
    }


def test_registry_unknown_schema_version_log_line(models_copy: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    write_manifest(only_latest(models_copy, "sines"), schema_version="1.1")
    with caplog.at_level("ERROR", logger="rnngan.registry"):
        _registry(models_copy)
    assert [r.getMessage() for r in caplog.records] == [
        f'refusing model sines/{SHIPPED["sines"]}: unknown schema_version "1.1" '
        "(this service reads 1)"
    ]


def test_registry_reload_picks_up_new_version(models_copy: Path) -> None:
    registry = _registry(models_copy)
    old = registry.get("sines")
    add_version(models_copy, "sines")
    report = registry.reload()
    assert report.models == {**SHIPPED, "sines": SHIPPED["sines"] + 1}
    assert report.reopened == ["sines"]
    assert report.refused == {} and report.newly_refused == {}
    assert registry.get("sines").manifest.version == SHIPPED["sines"] + 1  # type: ignore[union-attr]
    assert old is not None and old.manifest.version == SHIPPED["sines"]


def test_registry_reload_keeps_sessions_of_unchanged_versions(models_copy: Path) -> None:
    registry = _registry(models_copy)
    before = dict(registry.models)
    report = registry.reload()
    assert report.reopened == []
    assert all(registry.models[name] is before[name] for name in before)
    # Files rewritten with the same content: the same session is kept, not reopened.
    manifest = models_copy / "sines" / str(SHIPPED["sines"]) / "manifest.json"
    manifest.write_text(manifest.read_text() + "\n")
    report = registry.reload()
    assert report.reopened == []
    assert registry.models["sines"] is not before["sines"]
    assert registry.models["sines"].session is before["sines"].session


def test_registry_reload_bad_new_version_keeps_good_one(models_copy: Path) -> None:
    registry = _registry(models_copy)
    served = registry.get("sines")
    new = add_version(models_copy, "sines")
    key = f"sines/{SHIPPED['sines'] + 1}"
    (new / "model.onnx").write_bytes(b"garbage")
    report = registry.reload()
    assert registry.get("sines") is served
    assert report.models == SHIPPED
    assert list(report.newly_refused) == [key]
    assert report.refused[key].startswith("sha256 of model.onnx is ")
    # The same bad files are not re-checked or counted again on the next poll ...
    again = registry.reload()
    assert again.newly_refused == {} and list(again.refused) == [key]
    # ... but fixed files are.
    shutil.copyfile(served.path / "model.onnx", new / "model.onnx")  # type: ignore[union-attr]
    fixed = registry.reload()
    assert fixed.models["sines"] == SHIPPED["sines"] + 1 and fixed.refused == {}


def test_registry_reload_in_flight_model_still_runs(models_copy: Path) -> None:
    from service.inference import generate

    registry = _registry(models_copy)
    held = registry.get("sines")
    assert held is not None
    before = generate(held, n=2, length=6, seed=3)
    add_version(models_copy, "sines")
    registry.reload()
    assert registry.get("sines") is not held
    np.testing.assert_array_equal(generate(held, n=2, length=6, seed=3), before)
    assert held.manifest.version == SHIPPED["sines"]


def test_registry_reload_removed_model_is_dropped(models_copy: Path) -> None:
    registry = _registry(models_copy)
    shutil.rmtree(models_copy / "etth1_ot")
    assert registry.reload().models == {k: v for k, v in SHIPPED.items() if k != "etth1_ot"}


def test_registry_reload_missing_repository_keeps_models(models_copy: Path) -> None:
    registry = _registry(models_copy)
    models_copy.rename(models_copy.with_name("elsewhere"))
    assert registry.reload().models == SHIPPED


def test_registry_staging_directories_are_skipped(models_copy: Path) -> None:
    staging = models_copy / ".staging" / "sines" / "99"
    shutil.copytree(models_copy / "sines" / str(SHIPPED["sines"]), staging)
    registry = _registry(models_copy)
    assert sorted(registry.models) == sorted(SHIPPED) and registry.refused == {}
