"""The OpenAPI document behind /docs works with "Try it out": every named request example, as
/openapi.json publishes it, succeeds on a served model it is meant for; the `{name}` parameter
lists the served models; operation ids are readable; the bearer scheme is there with keys."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from rnngan.core.manifest import Manifest
from service.config import Settings
from service.main import create_app
from service.openapi import SECURITY_SCHEME, body_examples
from tests.conftest import MODELS


def _manifests(client: TestClient) -> list[Manifest]:
    """What the app serves, by name."""
    models = client.app.state.rnngan.registry.models  # type: ignore[attr-defined]
    return [models[name].manifest for name in sorted(models)]


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op) for path, ops in schema["paths"].items() for method, op in ops.items()
    ]


def test_openapi_every_body_example_succeeds_on_a_model_it_fits(table_client: TestClient) -> None:
    schema = table_client.get("/openapi.json").json()
    manifests = _manifests(table_client)
    assert any(m.table is not None for m in manifests)  # the table examples get a table model
    sent = 0
    for path, method, op in _operations(schema):
        if "requestBody" not in op:
            continue
        media = op["requestBody"]["content"]["application/json"]
        body_schema = media["schema"]["$ref"].rsplit("/", 1)[-1]
        published = media.get("examples", {})
        if body_schema == "ReloadBody" or path.startswith("/admin/"):
            continue
        assert published, f"{method.upper()} {path} has no request examples"
        fits = {e.key: e.fits for e in body_examples(body_schema, manifests)}
        assert list(published) == list(fits)
        for key, example in published.items():
            model = next((m for m in manifests if fits[key](m)), None)
            assert model is not None, f"no served model fits example {key!r} of {path}"
            url = path.replace("{name}", model.name)
            url = re.sub(r"\{(v|version)\}", str(model.version), url)
            r = table_client.request(method, url, json=example["value"])
            assert 200 <= r.status_code < 300, f"{key} on {url}: {r.status_code} {r.text[:300]}"
            sent += 1
    assert sent >= 14


def test_openapi_name_parameter_lists_the_served_models_that_fit(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    tasks = {m.name: m.task for m in _manifests(client)}
    for path, _, op in _operations(schema):
        if "{name}" not in path:
            continue
        (param,) = [p for p in op["parameters"] if p["name"] == "name"]
        assert param["description"].startswith("the model's name; served now: digits (image)")
        listed = [e["value"] for e in param["examples"].values()]
        if path.endswith("/forecast"):
            assert listed == ["etth1_ot", "traffic_a5m"]
        elif path.endswith("/images"):
            assert listed == ["digits", "digits_text"]
        elif path.endswith("/samples"):
            assert listed == ["energy", "etth1", "sines", "stocks"]
        elif "/datasets" in path:  # series first: the first body example is csv
            assert [tasks[n] for n in listed] == ["generate"] * 4 + ["image"] * 2
        else:
            assert sorted(listed) == sorted(tasks)


def test_openapi_operation_ids_are_unique_and_readable(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    ids = [op["operationId"] for _, _, op in _operations(schema)]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][a-z_]{2,30}", i) for i in ids), ids
    assert {"forecast", "samples", "images", "list_models", "get_model", "get_card"} <= set(ids)


def _app_schema(**settings: Any) -> dict[str, Any]:
    app = create_app(Settings(models_dir=MODELS, _env_file=None, **settings))  # type: ignore[call-arg]
    with TestClient(app) as client:
        r = client.get("/openapi.json")  # the document itself needs no key
        assert r.status_code == 200
        return dict(r.json())


def test_openapi_bearer_scheme_when_api_keys_are_set() -> None:
    schema = _app_schema(api_keys=["k1"])
    assert schema["components"]["securitySchemes"][SECURITY_SCHEME] == {
        "type": "http",
        "scheme": "bearer",
        "description": "one of the service's API keys (RNNGAN_API_KEYS)",
    }
    for path, _, op in _operations(schema):
        guarded = path.startswith(("/v1/", "/admin/"))
        assert op.get("security") == ([{SECURITY_SCHEME: []}] if guarded else None), path


def test_openapi_no_security_scheme_without_api_keys() -> None:
    schema = _app_schema()
    assert "securitySchemes" not in schema.get("components", {})
    assert not any("security" in op for _, _, op in _operations(schema))
