"""Hot reload through the app: POST /admin/reload, the polling thread, and the load-failure
metric, on a private copy of the model repository."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from service.config import Settings
from service.main import create_app
from tests.conftest import SHIPPED
from tests.service.versions import add_version, write_manifest

V = SHIPPED["sines"]


def _app(models_dir: Path, **settings: Any) -> Any:
    settings.setdefault("reload_interval_s", 0)
    return create_app(Settings(models_dir=models_dir, _env_file=None, **settings))  # type: ignore[call-arg]


def _failures(client: TestClient, model: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f'rnngan_model_load_failures_total{{model="{model}"}}'):
            return float(line.split()[-1])
    return 0.0


def test_admin_reload_serves_new_version(models_copy: Path) -> None:
    with TestClient(_app(models_copy)) as c:
        body = {"n": 1, "length": 3, "seed": 1}
        assert c.post("/v1/models/sines/samples", json=body).json()["version"] == V
        add_version(models_copy, "sines")
        r = c.post("/admin/reload")
        assert r.status_code == 200
        assert r.json() == {
            "models": {**SHIPPED, "sines": V + 1},
            "refused": {},
            "reopened": ["sines"],
        }
        assert c.post("/v1/models/sines/samples", json=body).json()["version"] == V + 1
        again = c.post("/admin/reload").json()
        assert again["reopened"] == []


def test_admin_reload_bad_version_keeps_old_and_counts_failure(models_copy: Path) -> None:
    with TestClient(_app(models_copy)) as c:
        assert _failures(c, "sines") == 0.0
        new = add_version(models_copy, "sines")
        (new / "model.onnx").write_bytes(b"not onnx")
        r = c.post("/admin/reload")
        assert r.status_code == 200
        body = r.json()
        assert body["models"] == SHIPPED and body["reopened"] == []
        assert list(body["refused"]) == [f"sines/{V + 1}"]
        assert body["refused"][f"sines/{V + 1}"].startswith("sha256 of model.onnx is ")
        assert _failures(c, "sines") == 1.0
        c.post("/admin/reload")  # the same bad files are counted once
        assert _failures(c, "sines") == 1.0
        ready = c.get("/readyz").json()
        assert ready["status"] == "ready" and list(ready["refused"]) == [f"sines/{V + 1}"]
        out = c.post("/v1/models/sines/samples", json={"n": 1})
        assert (out.status_code, out.json()["version"]) == (200, V)


def test_admin_reload_needs_key_when_keys_configured(models_copy: Path) -> None:
    with TestClient(_app(models_copy, api_keys="k1")) as c:
        r = c.post("/admin/reload")
        assert (r.status_code, r.headers["www-authenticate"]) == (401, "Bearer")
        assert r.json() == {
            "detail": "This route needs an API key: send 'Authorization: Bearer <key>'."
        }
        wrong = c.post("/admin/reload", headers={"Authorization": "Bearer k2"})
        assert (wrong.status_code, wrong.json()) == (401, {"detail": "The API key is not valid."})
        ok = c.post("/admin/reload", headers={"Authorization": "Bearer k1"})
        assert ok.status_code == 200 and ok.json()["models"] == SHIPPED


def test_reload_poller_picks_up_new_version(models_copy: Path) -> None:
    with TestClient(_app(models_copy, reload_interval_s=0.2)) as c:
        add_version(models_copy, "sines")
        deadline = time.monotonic() + 20
        versions: dict[str, int] = {}
        while time.monotonic() < deadline:
            versions = {m["name"]: m["version"] for m in c.get("/v1/models").json()["models"]}
            if versions["sines"] == V + 1:
                break
            time.sleep(0.1)
        assert versions == {**SHIPPED, "sines": V + 1}


def test_reload_poller_counts_refusals(models_copy: Path) -> None:
    with TestClient(_app(models_copy, reload_interval_s=0.2)) as c:
        new = add_version(models_copy, "sines")
        (new / "manifest.json").write_text("{")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _failures(c, "sines") == 0.0:
            time.sleep(0.1)
        assert _failures(c, "sines") == 1.0
        assert (
            c.get("/readyz")
            .json()["refused"][f"sines/{V + 1}"]
            .startswith("manifest is not valid JSON: ")
        )


def test_startup_refusal_is_counted(models_copy: Path) -> None:
    new = add_version(models_copy, "sines")
    write_manifest(new, schema_version=3)
    with TestClient(_app(models_copy)) as c:
        assert _failures(c, "sines") == 1.0
        assert c.get("/readyz").json()["refused"] == {
            f"sines/{V + 1}": "unknown schema_version 3 (this service reads 1)"
        }


def test_metrics_unknown_model_names_share_one_label(models_copy: Path) -> None:
    with TestClient(_app(models_copy)) as c:
        for name in ("nope", "zzz", "x" * 50):
            assert c.get(f"/v1/models/{name}").status_code == 404
        text = c.get("/metrics").text
    assert (
        'rnngan_requests_total{method="GET",model="unknown",route="/v1/models/{name}",'
        'status="404"} 3.0' in text
    )
    assert "nope" not in text and "zzz" not in text


def test_admin_reload_retires_the_replaced_versions_batcher(models_copy: Path) -> None:
    """The micro-batcher of a version that a reload replaced stops its thread; a request that
    still holds the old version runs without it and gets its numbers."""
    with TestClient(_app(models_copy)) as c:
        registry = c.app.state.rnngan.registry  # type: ignore[attr-defined]
        old = registry.get("sines")
        assert old.batcher is not None and old.batcher._thread.is_alive()
        add_version(models_copy, "sines")
        c.post("/admin/reload")
        assert not old.batcher._thread.is_alive()
        assert registry.get("sines").batcher._thread.is_alive()
        noise = np.zeros((1, 3, old.manifest.latent_dim), dtype=np.float32)
        assert old.run({"noise": noise}).shape[:2] == (1, 3)
