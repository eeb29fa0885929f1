"""Every route: status and exact detail for 200 / 404 / 413 / 422, against the shipped models."""

from __future__ import annotations

import gzip
import io
import json
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from service.config import Settings
from service.main import create_app
from tests.conftest import MODELS, SHIPPED

HISTORY = [float(20 + 5 * np.sin(i / 24 * 2 * np.pi)) for i in range(200)]


def test_healthz_ok(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_readyz_lists_models_and_providers(client: TestClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ready"
    assert sorted(m["name"] for m in body["models"]) == sorted(SHIPPED)
    assert body["providers"] == ["CPUExecutionProvider"]
    assert all(m["providers"] == ["CPUExecutionProvider"] for m in body["models"])
    assert body["refused"] == {}


def test_models_list(client: TestClient) -> None:
    r = client.get("/v1/models")
    assert r.status_code == 200
    expected = []
    for name, version in SHIPPED.items():
        manifest = json.loads((MODELS / name / str(version) / "manifest.json").read_text())
        expected.append(
            {
                "name": name,
                "version": version,
                "task": manifest["task"],
                "features": manifest["features"],
            }
        )
    assert r.json() == {"models": expected}
    assert {
        "name": "etth1_ot",
        "version": SHIPPED["etth1_ot"],
        "task": "forecast",
        "features": ["OT"],
    } in expected


def test_model_manifest(client: TestClient) -> None:
    r = client.get("/v1/models/etth1_ot")
    assert r.status_code == 200
    body = r.json()
    assert (body["context_len"], body["horizon"], body["freq"]) == (168, 24, "h")
    assert "test_crps" in body["metrics"]


def test_model_unknown_is_404(client: TestClient) -> None:
    r = client.get("/v1/models/nope")
    assert r.status_code == 404
    assert r.json() == {"detail": f"Model 'nope' not found; served models: {', '.join(SHIPPED)}."}


def test_samples_shape_and_determinism(client: TestClient) -> None:
    body = {"n": 3, "length": 30, "seed": 5}
    r = client.post("/v1/models/sines/samples", json=body)
    assert r.status_code == 200
    out = r.json()
    assert (out["model"], out["version"]) == ("sines", SHIPPED["sines"])
    arr = np.asarray(out["samples"])
    assert arr.shape == (3, 30, 5)
    assert 0.0 <= arr.min() and arr.max() <= 1.0  # Sines live in [0, 1]
    assert client.post("/v1/models/sines/samples", json=body).json() == out
    other = client.post("/v1/models/sines/samples", json={**body, "seed": 6}).json()
    assert other["samples"] != out["samples"]


def test_samples_default_length_is_seq_len(client: TestClient) -> None:
    out = client.post("/v1/models/sines/samples", json={"n": 2}).json()
    assert np.asarray(out["samples"]).shape == (2, 24, 5)


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"n": 0}, "Invalid request: field 'n': Input should be greater than or equal to 1."),
        (
            {"n": "many"},
            "Invalid request: field 'n': Input should be a valid integer.",
        ),
        # Strict bodies: what the JSON schema calls an integer is not a string or a boolean.
        ({"n": "5"}, "Invalid request: field 'n': Input should be a valid integer."),
        (
            {"n": 1, "seed": False},
            "Invalid request: field 'seed': Input should be a valid integer.",
        ),
        ({"n": 1, "colour": 1}, "Invalid request: field 'colour': Extra inputs are not permitted."),
        (
            {"n": 1, "seed": -1},
            "Invalid request: field 'seed': Input should be greater than or equal to 0.",
        ),
    ],
)
def test_samples_bad_body_is_422_naming_field(client: TestClient, body: Any, detail: str) -> None:
    r = client.post("/v1/models/sines/samples", json=body)
    assert r.status_code == 422
    assert r.json() == {"detail": detail}


def test_samples_invalid_json_is_422(client: TestClient) -> None:
    r = client.post(
        "/v1/models/sines/samples",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422
    assert r.json()["detail"].startswith("Invalid request: the body is not valid JSON")


def test_samples_undecodable_body_is_400(client: TestClient) -> None:
    r = client.post(
        "/v1/models/sines/samples",
        content=b'{"n": "\xff"}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 400
    assert r.json() == {"detail": "The request body could not be read: send JSON encoded as UTF-8."}


def test_samples_over_limit_is_413(client: TestClient) -> None:
    r = client.post("/v1/models/sines/samples", json={"n": 100_000, "length": 24})
    assert r.status_code == 413
    assert r.json() == {
        "detail": "n × length × features = 12000000 is over this service's limit "
        "of 2000000 values per /samples request; use /datasets for bulk."
    }


def test_samples_on_forecast_model_is_422(client: TestClient) -> None:
    r = client.post("/v1/models/etth1_ot/samples", json={"n": 1})
    assert r.status_code == 422
    assert r.json() == {
        "detail": "Model 'etth1_ot' is a forecast model; this route needs a generate model."
    }


def test_samples_unknown_model_is_404(client: TestClient) -> None:
    r = client.post("/v1/models/nope/samples", json={"n": 1})
    assert r.status_code == 404


def _dataset(client: TestClient, **body: Any) -> bytes:
    r = client.post("/v1/models/sines/datasets", json=body)
    assert r.status_code == 200, r.text
    return r.content


def test_datasets_csv_layout_and_filename(client: TestClient) -> None:
    r = client.post("/v1/models/sines/datasets", json={"n": 3, "length": 4, "seed": 1})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"] == "attachment; filename=sines-1-0-3.csv"
    lines = r.text.splitlines()
    assert lines[0] == '"series_id","step","sine_1","sine_2","sine_3","sine_4","sine_5"'
    assert len(lines) == 1 + 3 * 4
    assert lines[1].startswith("0,0,") and lines[-1].startswith("2,3,")


def test_datasets_match_samples(client: TestClient) -> None:
    csv = _dataset(client, n=2, length=5, seed=9).decode().splitlines()[1:]
    values = np.array([[float(v) for v in line.split(",")[2:]] for line in csv]).reshape(2, 5, 5)
    samples = client.post("/v1/models/sines/samples", json={"n": 2, "length": 5, "seed": 9}).json()
    np.testing.assert_allclose(values, np.asarray(samples["samples"]), rtol=1e-6)


@pytest.mark.parametrize("fmt", ["csv", "ndjson"])
def test_datasets_shards_concatenate_to_one_request(client: TestClient, fmt: str) -> None:
    whole = _dataset(client, n=10, length=6, seed=3, format=fmt)
    shards = [
        _dataset(client, n=4, length=6, seed=3, format=fmt, offset=0),
        _dataset(client, n=6, length=6, seed=3, format=fmt, offset=4),
    ]
    assert b"".join(shards) == whole
    assert _dataset(client, n=10, length=6, seed=3, format=fmt) == whole


def test_datasets_parquet_columns_and_values(client: TestClient) -> None:
    table = pq.read_table(io.BytesIO(_dataset(client, n=5, length=4, seed=3, format="parquet")))
    assert table.column_names == [
        "series_id",
        "step",
        "sine_1",
        "sine_2",
        "sine_3",
        "sine_4",
        "sine_5",
    ]
    assert [str(t) for t in table.schema.types] == ["int64", "int32"] + ["float"] * 5
    assert table.num_rows == 20
    csv = _dataset(client, n=5, length=4, seed=3).decode().splitlines()[1:]
    assert float(csv[7].split(",")[4]) == pytest.approx(table.column("sine_3")[7].as_py())


def test_datasets_ndjson_rows_are_json(client: TestClient) -> None:
    rows = [json.loads(x) for x in _dataset(client, n=2, length=3, format="ndjson").splitlines()]
    assert len(rows) == 6
    assert list(rows[0]) == ["series_id", "step", "sine_1", "sine_2", "sine_3", "sine_4", "sine_5"]
    assert (rows[-1]["series_id"], rows[-1]["step"]) == (1, 2)


def test_datasets_gzip_decompresses_to_plain(client: TestClient) -> None:
    plain = _dataset(client, n=7, length=5, seed=2)
    packed = _dataset(client, n=7, length=5, seed=2, compression="gzip")
    assert gzip.decompress(packed) == plain


def test_datasets_over_limit_is_413(client: TestClient) -> None:
    r = client.post("/v1/models/sines/datasets", json={"n": 10_000_000, "length": 24})
    assert r.status_code == 413
    assert r.json() == {
        "detail": "n × length = 240000000 rows is over this service's limit of "
        "100000000; fetch the set in shards with 'offset'."
    }


def test_datasets_bad_format_is_422(client: TestClient) -> None:
    r = client.post("/v1/models/sines/datasets", json={"n": 1, "format": "xlsx"})
    assert r.status_code == 422
    assert r.json() == {
        "detail": "Invalid request: field 'format': Input should be 'csv', 'parquet' or 'ndjson'."
    }


def _forecast(client: TestClient, **body: Any) -> Any:
    return client.post("/v1/models/etth1_ot/forecast", json=body)


def test_forecast_shapes_keys_and_determinism(client: TestClient) -> None:
    body = {
        "series": [
            {"id": "a", "values": HISTORY},
            {"id": "b", "values": [v * 10 for v in HISTORY]},
        ],
        "horizon": 12,
        "quantiles": [0.05, 0.5, 0.9],
        "num_samples": 50,
        "seed": 4,
    }
    r = _forecast(client, **body)
    assert r.status_code == 200
    out = r.json()
    assert (out["model"], out["version"]) == ("etth1_ot", SHIPPED["etth1_ot"])
    assert [f["id"] for f in out["forecasts"]] == ["a", "b"]
    a = out["forecasts"][0]
    assert list(a["quantiles"]) == ["0.05", "0.5", "0.9"]
    assert len(a["mean"]) == 12 and all(len(v) == 12 for v in a["quantiles"].values())
    assert "samples" not in a
    q05, q5, q9 = (np.asarray(a["quantiles"][k]) for k in ("0.05", "0.5", "0.9"))
    assert (q05 <= q5).all() and (q5 <= q9).all()
    # Per-series scaling: a series ten times larger gets a forecast on its own level.
    assert np.mean(out["forecasts"][1]["mean"]) > 5 * np.mean(a["mean"])
    assert _forecast(client, **body).json() == out


def test_forecast_series_result_is_independent_of_neighbours(client: TestClient) -> None:
    alone = _forecast(client, series=[{"id": "a", "values": HISTORY}], num_samples=20).json()
    pair = _forecast(
        client,
        series=[{"id": "a", "values": HISTORY}, {"id": "z", "values": HISTORY[::-1]}],
        num_samples=20,
    ).json()
    assert pair["forecasts"][0] == alone["forecasts"][0]


def test_forecast_returns_samples_when_asked(client: TestClient) -> None:
    out = _forecast(
        client, series=[{"id": "a", "values": HISTORY}], num_samples=7, return_samples=True
    ).json()
    assert np.asarray(out["forecasts"][0]["samples"]).shape == (7, 24)


def test_forecast_uses_most_recent_context(client: TestClient) -> None:
    long = _forecast(client, series=[{"id": "a", "values": [1.0] * 50 + HISTORY}]).json()
    short = _forecast(client, series=[{"id": "a", "values": HISTORY[-168:]}]).json()
    assert long["forecasts"] == short["forecasts"]


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        (
            {"series": [{"id": "a", "values": HISTORY}, {"id": "b", "values": [1.0] * 10}]},
            422,
            "series 'b': history has 10 values; this model needs at least 168.",
        ),
        (
            {"series": [{"id": "a", "values": HISTORY}], "horizon": 48},
            422,
            "horizon 48 is beyond this model's limit of 24 steps.",
        ),
        (
            {"series": [{"id": "a", "values": HISTORY}], "quantiles": [0.5, 1.0]},
            422,
            "Invalid request: field 'quantiles': Value error, quantile levels must lie strictly "
            "between 0 and 1, got 1.0.",
        ),
        (
            {"series": []},
            422,
            "Invalid request: field 'series': List should have at least 1 item after validation, "
            "not 0.",
        ),
        (
            {"series": [{"id": "a", "values": HISTORY}], "num_samples": 5000},
            413,
            "num_samples 5000 is over this service's limit of 2000.",
        ),
        (
            {"series": [{"id": "a", "values": HISTORY, "timestamps": ["2020-01-01"]}]},
            422,
            "series 'a': 1 timestamps for 200 values; give one per value or none.",
        ),
    ],
)
def test_forecast_bad_input(client: TestClient, body: Any, status: int, detail: str) -> None:
    r = _forecast(client, **body)
    assert r.status_code == status
    assert r.json() == {"detail": detail}


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity"])
def test_forecast_non_finite_history_is_422(client: TestClient, bad: str) -> None:
    values = ", ".join(["1.0"] * 100 + [bad] + ["1.0"] * 100)
    raw = '{"series": [{"id": "x", "values": [' + values + "]}]}"
    r = client.post(
        "/v1/models/etth1_ot/forecast",
        content=raw.encode(),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422
    assert r.json() == {
        "detail": "series 'x': history has NaN or infinite values (first at "
        "index 100); fill or drop them before forecasting."
    }


def test_forecast_on_generate_model_is_422(client: TestClient) -> None:
    r = client.post("/v1/models/sines/forecast", json={"series": [{"id": "a", "values": HISTORY}]})
    assert r.status_code == 422


def test_metrics_count_requests_by_route_and_model(client: TestClient) -> None:
    client.post("/v1/models/sines/samples", json={"n": 1})
    text = client.get("/metrics").text
    assert (
        'rnngan_requests_total{method="POST",model="sines",'
        'route="/v1/models/{name}/samples",status="200"}' in text
    )
    assert "rnngan_rows_generated_total" in text
    assert "rnngan_request_duration_seconds_bucket" in text


def test_docs_page_served_without_cdn(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200
    assert "cdn" not in r.text.lower()
    assert client.get("/openapi.json").status_code == 200


def test_auth_required_when_keys_configured() -> None:
    settings = Settings(models_dir=MODELS, api_keys="k1,k2", _env_file=None)  # type: ignore[call-arg]
    with TestClient(create_app(settings)) as c:
        r = c.get("/v1/models")
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json() == {
            "detail": "This route needs an API key: send 'Authorization: Bearer <key>'."
        }
        wrong = c.get("/v1/models", headers={"Authorization": "Bearer nope"})
        assert (wrong.status_code, wrong.json()) == (401, {"detail": "The API key is not valid."})
        assert c.get("/v1/models", headers={"Authorization": "Bearer k2"}).status_code == 200
        assert c.get("/healthz").status_code == 200
        assert c.get("/readyz").status_code == 200
        assert c.get("/metrics").status_code == 200
