from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from rnngan.core.manifest import Manifest, json_schema
from tests.conftest import MODELS, REPO, SHIPPED


def _shipped(name: str) -> dict:
    return json.loads((MODELS / name / str(SHIPPED[name]) / "manifest.json").read_text())


def test_manifest_schema_matches_committed_file() -> None:
    committed = (REPO / "rnngan" / "core" / "manifest.schema.json").read_text()
    assert committed == json_schema(), "run `make schema`, commit rnngan/core/manifest.schema.json"


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_manifest_shipped_models_validate(name: str) -> None:
    manifest = Manifest.model_validate(_shipped(name))
    assert manifest.name == name
    assert manifest.version == SHIPPED[name]
    assert manifest.metrics, "shipped models carry their measured metrics"


def test_manifest_roundtrip_is_byte_stable(tmp_path: Path) -> None:
    manifest = Manifest.model_validate(_shipped("sines"))
    manifest.write(tmp_path / "m.json")
    assert Manifest.read(tmp_path / "m.json") == manifest
    shipped = MODELS / "sines" / str(SHIPPED["sines"]) / "manifest.json"
    assert (tmp_path / "m.json").read_text() == shipped.read_text()


def test_manifest_forecast_without_horizon_is_rejected() -> None:
    raw = _shipped("etth1_ot")
    raw["horizon"] = None
    with pytest.raises(ValidationError, match="needs context_len and horizon"):
        Manifest.model_validate(raw)


def test_manifest_wrong_graph_io_is_rejected() -> None:
    raw = _shipped("sines")
    raw["onnx"]["inputs"] = ["z"]
    with pytest.raises(ValidationError, match=r"inputs \['noise'\]"):
        Manifest.model_validate(raw)


def test_manifest_unknown_schema_version_is_rejected() -> None:
    raw = _shipped("sines")
    raw["schema_version"] = 99
    with pytest.raises(ValidationError, match="schema_version"):
        Manifest.model_validate(raw)


def test_manifest_unknown_field_is_rejected() -> None:
    raw = _shipped("sines")
    raw["colour"] = "blue"
    with pytest.raises(ValidationError, match="colour"):
        Manifest.model_validate(raw)
