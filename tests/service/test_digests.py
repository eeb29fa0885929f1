"""What the Python client relies on: the checksum of a download (from the cache a completed
download fills, or computed), the request limits, and forecast `offset` (a panel split into
requests gives the numbers of one request)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.config import Settings
from service.digests import Digest, DigestCache, hashed
from service.main import create_app
from tests.conftest import MODELS, SHIPPED

BODY = {"n": 40, "length": 24, "seed": 3, "format": "csv", "offset": 10}
WANT = {"Want-Content-Digest": "sha-256"}


@pytest.fixture()
def fresh() -> TestClient:
    """An app of its own: an empty digest cache."""
    app = create_app(Settings(models_dir=MODELS, _env_file=None))  # type: ignore[call-arg]
    with TestClient(app) as c:
        yield c  # type: ignore[misc]


def test_digests_checksum_computed_then_cached(fresh: TestClient) -> None:
    first = fresh.post("/v1/models/sines/datasets/checksum", json=BODY)
    assert first.status_code == 200
    r = fresh.post("/v1/models/sines/datasets", json=BODY, headers=WANT)
    assert r.headers["x-model-version"] == str(SHIPPED["sines"])
    expected = {
        "model": "sines",
        "version": SHIPPED["sines"],
        "sha256": hashlib.sha256(r.content).hexdigest(),
        "bytes": len(r.content),
        "rows": 40 * 24,
    }
    assert first.json() == {**expected, "source": "computed"}
    second = fresh.post("/v1/models/sines/datasets/checksum", json=BODY)
    assert second.json() == {**expected, "source": "cache"}


def test_digests_download_fills_cache_only_when_asked(fresh: TestClient) -> None:
    body = {**BODY, "seed": 4}
    fresh.post("/v1/models/sines/datasets", json=body)  # no Want-Content-Digest
    assert fresh.post("/v1/models/sines/datasets/checksum", json=body).json()["source"] == (
        "computed"
    )
    body = {**BODY, "seed": 5, "format": "parquet"}
    r = fresh.post("/v1/models/sines/datasets", json=body, headers=WANT)
    got = fresh.post("/v1/models/sines/datasets/checksum", json=body).json()
    assert got["source"] == "cache"
    assert got["sha256"] == hashlib.sha256(r.content).hexdigest()


def test_digests_checksum_refuses_what_the_download_refuses(fresh: TestClient) -> None:
    r = fresh.post("/v1/models/etth1_ot/datasets/checksum", json=BODY)
    assert r.status_code == 422
    assert r.json() == {
        "detail": "Model 'etth1_ot' is a forecast model; this route needs a generate model."
    }
    r = fresh.post("/v1/models/nope/datasets/checksum", json=BODY)
    assert r.status_code == 404


def test_digests_cut_stream_is_not_cached() -> None:
    cache = DigestCache()
    stream = hashed(iter([b"ab", b"cd"]), lambda d: cache.put("k", d))
    assert next(stream) == b"ab"
    stream.close()  # type: ignore[attr-defined]
    assert cache.get("k") is None
    assert b"".join(hashed(iter([b"ab", b"cd"]), lambda d: cache.put("k", d))) == b"abcd"
    assert cache.get("k") == Digest(hashlib.sha256(b"abcd").hexdigest(), 4)


def test_digests_cache_drops_least_recent() -> None:
    cache = DigestCache(max_entries=2)
    for key in ("a", "b"):
        cache.put(key, Digest(key, 1))
    cache.get("a")
    cache.put("c", Digest("c", 1))
    assert cache.get("b") is None and cache.get("a") is not None and cache.get("c") is not None


def test_limits_are_the_settings(client: TestClient) -> None:
    r = client.get("/v1/limits")
    assert r.status_code == 200
    assert r.json()["max_forecast_series"] == 256
    assert r.json()["max_body_bytes"] == 8 * 1024 * 1024
    assert set(r.json()) == {
        "max_sample_values",
        "max_dataset_rows",
        "max_length",
        "max_forecast_series",
        "max_history",
        "max_num_samples",
        "max_forecast_values",
        "max_quantiles",
        "max_images",
        "max_body_bytes",
    }


def test_forecast_offset_split_equals_one_request(client: TestClient) -> None:
    series = [
        {"id": f"s{i}", "values": [float(10 + i + np.sin(t / 4)) for t in range(168)]}
        for i in range(5)
    ]
    common = {"horizon": 6, "num_samples": 16, "seed": 2, "quantiles": [0.1, 0.9]}
    whole = client.post("/v1/models/etth1_ot/forecast", json={"series": series, **common})
    parts = [
        client.post(
            "/v1/models/etth1_ot/forecast",
            json={"series": series[a:b], **common, "offset": a},
        )
        for a, b in ((0, 2), (2, 5))
    ]
    assert whole.status_code == 200 and all(p.status_code == 200 for p in parts)
    joined = [f for p in parts for f in p.json()["forecasts"]]
    assert joined == whole.json()["forecasts"]
    # Without the offset, the second part draws the first part's noise: other numbers.
    plain = client.post("/v1/models/etth1_ot/forecast", json={"series": series[2:5], **common})
    assert plain.json()["forecasts"] != whole.json()["forecasts"][2:5]


def test_digests_cut_stream_keeps_each_whole_chunk_for_the_smaller_request() -> None:
    """A download cut after two chunks leaves the digests of the requests for the first 10 and
    20 series (chunks of 10 here), which the checksum route then answers from the cache."""
    settings = Settings(models_dir=MODELS, dataset_chunk_series=10, _env_file=None)  # type: ignore[call-arg]
    app = create_app(settings)
    body = {"n": 35, "length": 24, "seed": 3, "format": "ndjson", "offset": 5}
    with TestClient(app) as c:
        state = app.state.rnngan
        from service.routes.datasets import _planned
        from service.schemas import DatasetRequest

        model, _, start, chunk = _planned(state, "sines", DatasetRequest.model_validate(body))
        assert chunk == 10
        cut: list[Digest] = []
        stream = hashed(start(lambda rows: None), lambda d: None, cut.extend)
        next(stream), next(stream)
        stream.close()  # type: ignore[attr-defined]
        assert len(cut) == 2
        for k, digest in enumerate(cut, 1):
            smaller = {**body, "n": 10 * k}
            content = c.post("/v1/models/sines/datasets", json=smaller).content
            assert digest == Digest(hashlib.sha256(content).hexdigest(), len(content))
        # Through the route: the header says the chunk size; parquet and gzip have none.
        r = c.post("/v1/models/sines/datasets", json=body, headers=WANT)
        assert r.headers["x-chunk-series"] == "10"
        for other in ({"format": "parquet"}, {"compression": "gzip"}):
            r = c.post("/v1/models/sines/datasets", json={**body, **other}, headers=WANT)
            assert "x-chunk-series" not in r.headers
