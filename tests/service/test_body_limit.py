"""The request body limit (`max_body_bytes`): checked before the body is parsed, whether the
client declares a Content-Length or streams the body in chunks."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from service.config import Settings
from service.main import create_app
from tests.conftest import MODELS, SHIPPED

LIMIT = 1000
CONTEXT_LEN = json.loads(
    (MODELS / "etth1_ot" / str(SHIPPED["etth1_ot"]) / "manifest.json").read_text()
)["context_len"]


@pytest.fixture(scope="module")
def small() -> Iterator[TestClient]:
    settings = Settings(
        models_dir=MODELS, max_body_bytes=LIMIT, reload_interval_s=0, _env_file=None
    )  # type: ignore[call-arg]
    with TestClient(create_app(settings)) as c:
        yield c


def _forecast_body(size: int) -> bytes:
    """A syntactically valid forecast body of exactly `size` bytes."""
    head = b'{"series": [{"id": "a", "values": [1.0'
    tail = b"]}]}"
    return head + b" " * (size - len(head) - len(tail)) + tail


def test_body_limit_declared_length_over_is_413(small: TestClient) -> None:
    r = small.post(
        "/v1/models/etth1_ot/forecast",
        content=_forecast_body(LIMIT + 1),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413
    assert r.json() == {
        "detail": "The request body is 1001 bytes, over this service's limit of 1000 bytes."
    }
    assert r.headers["x-request-id"]


def test_body_limit_streamed_body_over_is_413(small: TestClient) -> None:
    body = _forecast_body(LIMIT + 1)

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        for i in range(0, len(body), 100):
            yield body[i : i + 100]

    r = small.post(
        "/v1/models/etth1_ot/forecast",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413
    assert r.json() == {"detail": "The request body is over this service's limit of 1000 bytes."}


def test_body_limit_at_limit_reaches_the_route(small: TestClient) -> None:
    # Exactly at the limit the body is parsed and judged by the route (a 1-value history).
    r = small.post(
        "/v1/models/etth1_ot/forecast",
        content=_forecast_body(LIMIT),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422
    assert r.json() == {
        "detail": "series 'a': history has 1 values; this model needs at least 168."
    }


def test_body_limit_streamed_body_under_limit_is_served(small: TestClient) -> None:
    payload = json.dumps({"n": 2, "length": 3, "seed": 1}).encode()
    r = small.post(
        "/v1/models/sines/samples",
        content=iter([payload[:5], payload[5:]]),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 200 and len(r.json()["samples"]) == 2


def test_body_limit_counted_in_metrics(small: TestClient) -> None:
    small.post("/v1/models/sines/samples", content=b"x" * (LIMIT + 5))
    text = small.get("/metrics").text
    assert 'rnngan_errors_total{model="",route="unmatched",status="413"}' in text


def test_body_limit_default_is_8_mib() -> None:
    assert Settings(_env_file=None).max_body_bytes == 8 * 1024 * 1024  # type: ignore[call-arg]
