"""Hardening under hostile but fair clients: probes under load, the key before the body,
aborted uploads, bodies the JSON parser cannot take."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.config import Settings
from service.main import create_app
from service.registry import LoadedModel

KEY = "s3cret-key"


@pytest.fixture()
def keyed(models_copy: Path) -> Iterator[TestClient]:
    settings = Settings(models_dir=models_copy, api_keys=[KEY], _env_file=None)  # type: ignore[call-arg]
    with TestClient(create_app(settings)) as client:
        yield client


def test_probes_answer_while_every_worker_thread_is_busy(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_run = LoadedModel.run
    release = threading.Event()

    def slow_run(self: LoadedModel, inputs: dict[str, Any], **options: Any) -> Any:
        release.wait(10)  # inference that holds its worker thread
        return real_run(self, inputs, **options)

    monkeypatch.setattr(LoadedModel, "run", slow_run)
    body = {"n": 1, "length": 4, "seed": 0}
    threads = [
        threading.Thread(
            target=client.post, args=("/v1/models/sines/samples",), kwargs={"json": body}
        )
        for _ in range(60)  # more than the thread pool's 40 workers
    ]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)  # let them take every worker
        for path in ("/healthz", "/readyz", "/metrics"):
            started = time.perf_counter()
            assert client.get(path).status_code == 200
            assert time.perf_counter() - started < 2.0, f"{path} waited behind inference"
    finally:
        release.set()
        for t in threads:
            t.join(30)


def test_key_is_checked_before_the_body_is_read(keyed: TestClient) -> None:
    bad_json = keyed.post(
        "/v1/models/sines/samples",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert bad_json.status_code == 401
    assert bad_json.headers["www-authenticate"] == "Bearer"
    too_big = keyed.post("/v1/models/sines/samples", content=b"x" * (9 * 1024 * 1024))
    assert too_big.status_code == 401
    wrong = keyed.post("/admin/reload", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["detail"] == "The API key is not valid."
    ok = keyed.post(
        "/v1/models/sines/samples",
        json={"n": 1, "length": 4, "seed": 0},
        headers={"authorization": f"Bearer {KEY}"},
    )
    assert ok.status_code == 200
    assert keyed.get("/healthz").status_code == 200  # probes stay open


def _aborted_upload(client: TestClient, path: str) -> list[dict[str, Any]]:
    """Send half a body, then a disconnect, straight to the ASGI app; return what it sent."""
    messages = iter(
        [
            {"type": "http.request", "body": b'{"n": 1, "len', "more_body": True},
            {"type": "http.disconnect"},
        ]
    )
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(messages, {"type": "http.disconnect"})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"host", b"test")],
        "client": ("127.0.0.1", 1234),
        "server": ("test", 80),
    }
    assert client.portal is not None
    client.portal.call(client.app, scope, receive, send)
    return sent


def test_aborted_uploads_are_not_server_errors(client: TestClient) -> None:
    for _ in range(3):
        _aborted_upload(client, "/v1/models/sines/samples")
    metrics = client.get("/metrics").text
    lines = [ln for ln in metrics.splitlines() if ln.startswith("rnngan_requests_total")]
    assert any('status="499"' in ln for ln in lines), lines
    assert not any('status="5' in ln for ln in lines), lines


def test_deeply_nested_json_says_so(client: TestClient) -> None:
    body = "[" * 5000 + "]" * 5000
    r = client.post(
        "/v1/models/sines/samples", content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code in (400, 422)
    assert "nests JSON too deeply" in r.json()["detail"]


def test_huge_integer_says_so(client: TestClient) -> None:
    body = '{"n": ' + "9" * 5000 + ', "length": 4}'
    r = client.post(
        "/v1/models/sines/samples", content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code in (400, 422)
    assert "4,300 digits" in r.json()["detail"]


def test_non_utf8_body_still_says_utf8(client: TestClient) -> None:
    r = client.post(
        "/v1/models/sines/samples",
        content=b'{"n": 1, "length": 4, "note": "\xff\xfe"}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 400 and "UTF-8" in r.json()["detail"]
