"""Pinned versions: every model route under /v1/models/{name}/versions/{version}/..., the
version list in GET /v1/models/{name}, 404s for versions that are not there, and the registry's
small cache of opened older versions."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.config import Settings
from service.main import create_app
from service.pinned import VersionNotServed
from service.registry import Registry
from service.versioned import api_routes
from tests.conftest import MODELS, SHIPPED, SHIPPED_VERSIONS
from tests.service.versions import write_manifest

OLD = 1  # sines/1 in the fixture: the stocks graph renamed, so its answers are told apart
SINES = SHIPPED_VERSIONS["sines"]
TRAFFIC_NEXT = max(SHIPPED_VERSIONS["traffic_a5m"]) + 1  # a version not shipped


def _listed(versions: list[int]) -> str:
    """Versions as the 404 detail lists them."""
    return ", ".join(map(str, versions))


def _repository(root: Path) -> Path:
    """The shipped models plus sines/1, a second version with other features (stocks' graph)."""
    models = root / "models"
    shutil.copytree(MODELS, models)
    old = models / "sines" / str(OLD)
    shutil.copytree(models / "stocks" / str(SHIPPED["stocks"]), old)
    write_manifest(old, name="sines", version=OLD)
    return models


@pytest.fixture()
def pinned_client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(models_dir=_repository(tmp_path), _env_file=None)  # type: ignore[call-arg]
    with TestClient(create_app(settings)) as c:
        yield c


def test_versions_listed_in_the_manifest_route(pinned_client: TestClient) -> None:
    body = pinned_client.get("/v1/models/sines").json()
    assert body["version"] == SHIPPED["sines"] == SINES[-1]
    assert body["versions"] == [OLD, *SINES]
    versions = pinned_client.get("/v1/models/stocks").json()["versions"]
    assert versions == SHIPPED_VERSIONS["stocks"] and len(versions) > 1  # all shipped


def test_versions_pinned_manifest_is_that_version(pinned_client: TestClient) -> None:
    r = pinned_client.get(f"/v1/models/sines/versions/{OLD}")
    assert r.status_code == 200
    stocks = pinned_client.get("/v1/models/stocks").json()
    assert r.json()["version"] == OLD
    assert r.json()["features"] == stocks["features"]
    assert r.json()["versions"] == [OLD, *SINES]


def test_versions_pinned_samples_run_that_version(pinned_client: TestClient) -> None:
    body = {"n": 2, "length": 24, "seed": 3}
    old = pinned_client.post(f"/v1/models/sines/versions/{OLD}/samples", json=body).json()
    latest = pinned_client.post("/v1/models/sines/samples", json=body).json()
    pinned_latest = pinned_client.post(
        f"/v1/models/sines/versions/{SHIPPED['sines']}/samples", json=body
    ).json()
    assert old["version"] == OLD and len(old["samples"][0][0]) == 6  # stocks: 6 features
    assert latest["version"] == SHIPPED["sines"] and len(latest["samples"][0][0]) == 5
    assert pinned_latest == latest
    # The same seed on the stocks model itself gives the same numbers (same graph, same noise).
    stocks = pinned_client.post("/v1/models/stocks/samples", json=body).json()
    assert old["samples"] == stocks["samples"]


def test_versions_pinned_datasets_bytes(pinned_client: TestClient) -> None:
    body = {"n": 3, "length": 24, "seed": 1, "format": "csv"}
    latest = pinned_client.post("/v1/models/sines/datasets", json=body)
    pinned = pinned_client.post(f"/v1/models/sines/versions/{SHIPPED['sines']}/datasets", json=body)
    old = pinned_client.post(f"/v1/models/sines/versions/{OLD}/datasets", json=body)
    assert latest.status_code == pinned.status_code == old.status_code == 200
    assert pinned.content == latest.content
    assert old.content != latest.content
    assert old.content.splitlines()[0].count(b",") == 7  # series_id, step and 6 features


def test_versions_pinned_forecast_images_report(pinned_client: TestClient) -> None:
    history = [float(i % 24) for i in range(200)]
    forecast = {"series": [{"id": "a", "values": history}], "horizon": 24, "seed": 0}
    v = SHIPPED["etth1_ot"]
    pinned = pinned_client.post(f"/v1/models/etth1_ot/versions/{v}/forecast", json=forecast)
    assert pinned.status_code == 200
    assert pinned.json() == pinned_client.post("/v1/models/etth1_ot/forecast", json=forecast).json()
    images = {"n": 4, "seed": 1, "label": 3, "format": "npy"}
    v = SHIPPED["digits"]
    pinned = pinned_client.post(f"/v1/models/digits/versions/{v}/images", json=images)
    assert pinned.status_code == 200
    assert pinned.content == pinned_client.post("/v1/models/digits/images", json=images).content
    report = pinned_client.get(f"/v1/models/sines/versions/{SHIPPED['sines']}/report")
    assert report.status_code == pinned_client.get("/v1/models/sines/report").status_code


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        (
            "/v1/models/sines/versions/7",
            f"Model 'sines' has no version 7; versions: {_listed([OLD, *SINES])}.",
        ),
        (
            f"/v1/models/traffic_a5m/versions/{TRAFFIC_NEXT}/report",
            f"Model 'traffic_a5m' has no version {TRAFFIC_NEXT}; versions: "
            f"{_listed(SHIPPED_VERSIONS['traffic_a5m'])}.",
        ),
    ],
)
def test_versions_unknown_version_is_404(pinned_client: TestClient, path: str, detail: str) -> None:
    r = pinned_client.get(path)
    assert r.status_code == 404
    assert r.json() == {"detail": detail}


def test_versions_unknown_model_and_bad_version_numbers(pinned_client: TestClient) -> None:
    r = pinned_client.post("/v1/models/nope/versions/1/samples", json={"n": 1})
    assert r.status_code == 404
    assert r.json()["detail"].startswith("Model 'nope' not found; served models: ")
    for bad in ("0", "x", "-1"):
        r = pinned_client.post(f"/v1/models/sines/versions/{bad}/samples", json={"n": 1})
        assert r.status_code == 422, bad
        assert "version" in json.dumps(r.json()["detail"])


def test_versions_every_model_route_has_a_pinned_twin(pinned_client: TestClient) -> None:
    routes = {(m, p) for p, r in api_routes(pinned_client.app.routes) for m in r.methods}  # type: ignore[attr-defined]
    model_routes = {
        (m, p)
        for m, p in routes
        if (p == "/v1/models/{name}" or p.startswith("/v1/models/{name}/"))
        and "/versions/{version}" not in p
    }
    assert len(model_routes) >= 6
    for method, path in model_routes:
        twin = path.replace("/v1/models/{name}", "/v1/models/{name}/versions/{version}", 1)
        assert (method, twin) in routes
    schema = pinned_client.get("/openapi.json").json()
    assert "/v1/models/{name}/versions/{version}/samples" in schema["paths"]


# --- the registry's cache of opened older versions --------------------------------------------


def _registry(models: Path, capacity: int) -> Registry:
    registry = Registry(Settings(models_dir=models, max_pinned_versions=capacity, _env_file=None))  # type: ignore[call-arg]
    registry.reload()
    return registry


def test_pinned_versions_cache_is_bounded(tmp_path: Path) -> None:
    models = _repository(tmp_path)  # stocks ships several versions
    registry = _registry(models, capacity=1)
    on_disk = {  # every version folder (the digit models ship two as well)
        m.name: sorted(int(v.name) for v in m.iterdir() if v.name.isdigit())
        for m in models.iterdir()
        if m.is_dir() and not m.name.startswith(".")
    }
    assert on_disk["sines"] == [OLD, *SINES] and on_disk["stocks"] == SHIPPED_VERSIONS["stocks"]
    assert set(on_disk) == set(SHIPPED)
    assert registry.available == on_disk
    first = registry.get_version("sines", 1)
    assert registry.get_version("sines", 1) is first  # cached
    assert first.batcher is None  # pinned versions run unbatched
    registry.get_version("stocks", 1)
    assert registry.pinned.opened() == [("stocks", 1)]  # sines/1 closed: capacity 1
    assert registry.get_version("sines", 1) is not first
    assert registry.get_version("sines", SHIPPED["sines"]) is registry.models["sines"]


def test_pinned_versions_capacity_zero_opens_per_request(tmp_path: Path) -> None:
    registry = _registry(_repository(tmp_path), capacity=0)
    first = registry.get_version("sines", 1)
    assert first.manifest.version == 1
    assert registry.pinned.opened() == []
    assert registry.get_version("sines", 1) is not first


def test_pinned_versions_refused_version_says_why_and_reload_drops_gone_ones(
    tmp_path: Path,
) -> None:
    models = _repository(tmp_path)
    registry = _registry(models, capacity=2)
    (models / "sines" / "1" / "model.onnx").write_bytes(b"not a graph")
    with pytest.raises(VersionNotServed, match=r"version 1 cannot be served: sha256 of model.onnx"):
        registry.get_version("sines", 1)
    shutil.rmtree(models / "sines" / "1")
    registry.reload()
    assert registry.available["sines"] == SINES
    with pytest.raises(VersionNotServed, match=rf"has no version 1; versions: {_listed(SINES)}\."):
        registry.get_version("sines", 1)


def test_versions_pinned_manifest_links_the_pinned_card(pinned_client: TestClient) -> None:
    r = pinned_client.get(f"/v1/models/sines/versions/{OLD}")
    assert r.headers["Link"] == (
        f'</v1/models/sines/versions/{OLD}/card>; rel="describedby"; type="text/html"'
    )
    card = pinned_client.get(f"/v1/models/sines/versions/{OLD}/card")
    assert card.status_code == 200 and card.headers["content-type"].startswith("text/html")
    assert (
        pinned_client.get("/v1/models/sines").headers["Link"].startswith("</v1/models/sines/card>")
    )
