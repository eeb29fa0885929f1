"""Structured logs: one JSON object per line with the request id; API keys never logged."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.config import Settings
from service.main import create_app
from tests.conftest import MODELS

KEY = "s3cret-key-0123456789"


def _client(**settings: Any) -> TestClient:
    app = create_app(
        Settings(models_dir=MODELS, reload_interval_s=0, _env_file=None, **settings)  # type: ignore[call-arg]
    )

    def boom() -> None:
        raise RuntimeError("exploded inside a route")

    app.add_api_route("/boom", boom)
    return TestClient(app, raise_server_exceptions=False)


def _json_lines(err: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in err.splitlines() if line.strip()]


@pytest.fixture(autouse=True)
def _restore_text_logs() -> Any:
    yield
    logging.getLogger().setLevel(logging.INFO)


def test_logging_json_lines_carry_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    with _client(log_format="json") as c:
        capsys.readouterr()
        r = c.get("/healthz", headers={"X-Request-ID": "req-42"})
        assert r.headers["x-request-id"] == "req-42"
    lines = _json_lines(capsys.readouterr().err)
    access = [e for e in lines if e["logger"] == "rnngan.access"]
    assert len(access) == 1
    entry = access[0]
    assert set(entry) == {
        "time",
        "level",
        "logger",
        "message",
        "request_id",
        "method",
        "path",
        "status",
        "duration_ms",
    }
    assert (entry["level"], entry["request_id"], entry["status"]) == ("INFO", "req-42", 200)
    assert entry["message"].startswith("GET /healthz 200 ")
    assert entry["time"].endswith("+00:00")


def test_logging_unsafe_request_id_is_replaced(capsys: pytest.CaptureFixture[str]) -> None:
    with _client(log_format="json") as c:
        r = c.get("/healthz", headers={"X-Request-ID": "x\tINFO fake line"})
    assert len(r.headers["x-request-id"]) == 32 and "fake" not in r.headers["x-request-id"]
    assert "fake line" not in capsys.readouterr().err


def test_logging_unexpected_error_logged_with_traceback_not_sent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with _client(log_format="json") as c:
        capsys.readouterr()
        r = c.get("/boom", headers={"X-Request-ID": "req-boom"})
    assert r.status_code == 500
    assert r.json() == {"detail": "Internal server error; the failure was logged."}
    errors = [e for e in _json_lines(capsys.readouterr().err) if e["level"] == "ERROR"]
    assert [e["message"] for e in errors] == ["unexpected error on GET /boom"]
    assert errors[0]["request_id"] == "req-boom"
    assert "RuntimeError: exploded inside a route" in errors[0]["exc_info"]


def test_logging_never_writes_api_keys(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with _client(log_format="json", log_level="debug", api_keys=KEY) as c:
        ok = c.get("/v1/models", headers={"Authorization": f"Bearer {KEY}"})
        wrong = c.get("/v1/models", headers={"Authorization": f"Bearer {KEY}x"})
        boom = c.get("/boom", headers={"Authorization": f"Bearer {KEY}"})
    assert (ok.status_code, wrong.status_code, boom.status_code) == (200, 401, 500)
    err = capsys.readouterr().err
    assert len(_json_lines(err)) >= 4  # the requests were logged ...
    assert KEY not in err  # ... without the key
    assert all(KEY not in r.getMessage() for r in caplog.records)


def test_logging_text_format(capsys: pytest.CaptureFixture[str]) -> None:
    with _client(log_format="text") as c:
        capsys.readouterr()
        c.get("/healthz", headers={"X-Request-ID": "req-7"})
    lines = [x for x in capsys.readouterr().err.splitlines() if "rnngan.access" in x]
    assert len(lines) == 1
    assert " INFO rnngan.access: GET /healthz 200 " in lines[0]
    assert lines[0].endswith("ms request_id=req-7")
