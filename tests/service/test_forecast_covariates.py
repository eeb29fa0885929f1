"""Known-future covariates and calendar frequencies end to end (#16.2, #20.5): tiny models trained
with `rnngan train --data … --task forecast` (a few steps), exported with `rnngan export`,
served by the test app; requests with and without covariates, and every 422 they can earn."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from examples.tables import promo_panel
from rnngan.cli import app as cli
from rnngan.core.manifest import Manifest
from service.config import Settings
from service.main import create_app

CONTEXT, HORIZON = 48, 12


def _train(tmp: Path, data: Path, name: str, *extra: str, time_col: str = "time") -> None:
    runner = CliRunner()
    args = ["train", "--data", str(data), "--id-col", "store", "--time-col", time_col]
    args += ["--task", "forecast", "--target", "sales", "--steps", "20", "--name", name]
    args += ["--out-dir", str(tmp / "runs"), *extra]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        cli, ["export", "--run", str(tmp / "runs" / name), "--models-dir", str(tmp / "models")]
    )
    assert result.exit_code == 0, result.output


def _calendar_panel(freq: str, rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = []
    for k in range(3):
        stamps = pd.date_range(
            "2005-01-31" if freq == "ME" else "2024-01-01", periods=rows, freq=freq
        )
        shape = np.sin(2 * np.pi * np.arange(rows) / (12 if freq == "ME" else 5))
        sales = 50 + 10 * k + 5 * shape + rng.normal(0, 1, rows)
        parts.append(pd.DataFrame({"store": f"s{k}", "time": stamps, "sales": sales}))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Path]]:
    tmp = tmp_path_factory.mktemp("covariates")
    promo_panel(entities=3, rows=24 * 25).to_csv(tmp / "promo.csv", index=False)
    shape = ["--context-len", str(CONTEXT), "--horizon", str(HORIZON)]
    _train(tmp, tmp / "promo.csv", "promo", *shape, "--future-cols", "promo", "--calendar", "auto")
    _calendar_panel("ME", 120).to_csv(tmp / "monthly.csv", index=False)
    _train(tmp, tmp / "monthly.csv", "monthly", *shape, "--calendar", "auto")
    _calendar_panel("B", 300).to_csv(tmp / "bdays.csv", index=False)
    _train(tmp, tmp / "bdays.csv", "bdays", "--context-len", "20", "--horizon", "5")
    app = create_app(Settings(models_dir=tmp / "models", _env_file=None))  # type: ignore[call-arg]
    with TestClient(app) as client:
        yield client, tmp / "models"


def _hours(n: int, start: str = "2024-03-01T00:00:00") -> list[str]:
    return [t.isoformat() for t in pd.date_range(start, periods=n, freq="h")]


def _promo_body(**series: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": "a",
        "values": [100.0 + 10 * math.sin(i / 24 * 2 * math.pi) for i in range(60)],
        "timestamps": _hours(60),
        "covariates": {"promo": [0.0] * 60},
        "future": {"promo": [1.0] * HORIZON},
    }
    item.update(series)
    return {"series": [{k: v for k, v in item.items() if v is not None}], "num_samples": 20}


def test_covariates_in_the_manifest_and_graph(served: tuple[TestClient, Path]) -> None:
    client, models = served
    manifest = Manifest.read(models / "promo" / "1" / "manifest.json")
    assert manifest.covariates is not None
    assert manifest.covariates.model_dump() == {
        "calendar": ["hour", "weekday"],
        "future": ["promo"],
    }
    assert manifest.onnx.inputs == ["history", "noise", "covariates"]
    assert manifest.freq == "h" and manifest.season == 24
    body = client.get("/v1/models/promo").json()
    assert body["covariates"] == {"calendar": ["hour", "weekday"], "future": ["promo"]}


def test_forecast_with_future_values(served: tuple[TestClient, Path]) -> None:
    client, _ = served
    on = client.post("/v1/models/promo/forecast", json=_promo_body())
    assert on.status_code == 200, on.text
    item = on.json()["forecasts"][0]
    assert len(item["mean"]) == HORIZON and np.isfinite(item["mean"]).all()
    assert item["timestamps"] == _hours(60 + HORIZON)[60:]
    off = client.post(
        "/v1/models/promo/forecast", json=_promo_body(future={"promo": [0.0] * HORIZON})
    )
    assert off.status_code == 200
    assert not np.allclose(item["mean"], off.json()["forecasts"][0]["mean"])  # it reads them
    again = client.post("/v1/models/promo/forecast", json=_promo_body())
    assert again.json() == on.json()  # same body, same numbers


@pytest.mark.parametrize(
    ("series", "detail"),
    [
        (
            {"future": None},
            "series 'a': this model needs 'future' with the horizon values of its known-future "
            "columns ['promo'], one per horizon step.",
        ),
        (
            {"covariates": None},
            "series 'a': this model needs 'covariates' with the history values of its "
            "known-future columns ['promo'], one per value in 'values'.",
        ),
        (
            {"future": {"promo": [1.0] * 5}},
            "series 'a': future 'promo' has 5 values; give one per horizon step (12).",
        ),
        (
            {"covariates": {"promo": [1.0] * 59}},
            "series 'a': covariates 'promo' has 59 values; give one per value in 'values' (60).",
        ),
        (
            {"future": {"promo": [1.0] * HORIZON, "price": [2.0] * HORIZON}},
            "series 'a': 'future' must have exactly the columns ['promo']; unknown: ['price'].",
        ),
        (
            {"future": {"price": [2.0] * HORIZON}},
            "series 'a': 'future' must have exactly the columns ['promo']; unknown: ['price']; "
            "missing: ['promo'].",
        ),
        (
            {"future": {"promo": [1.0] * 3 + [float("nan")] + [1.0] * 8}},
            "series 'a': future 'promo' has NaN or infinite values (first at index 3); a "
            "known-future column must be known.",
        ),
        (
            {"timestamps": None},
            "series 'a': this model reads calendar features (hour, weekday); give 'timestamps', "
            "one per history value.",
        ),
        (
            {"static": {"kind": "office"}},
            "series 'a': model 'promo' reads no static attributes (it was trained without "
            "--static-cols); drop 'static'.",
        ),
    ],
)
def test_forecast_covariates_422(
    served: tuple[TestClient, Path], series: dict[str, Any], detail: str
) -> None:
    client, _ = served
    raw = json.dumps(_promo_body(**series))  # NaN as the JSON token NaN, as Python writes it
    r = client.post(
        "/v1/models/promo/forecast",
        content=raw.encode(),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422 and r.json() == {"detail": detail}


def test_forecast_non_numeric_future_is_422(served: tuple[TestClient, Path]) -> None:
    client, _ = served
    r = client.post(
        "/v1/models/promo/forecast", json=_promo_body(future={"promo": ["on"] * HORIZON})
    )
    assert r.status_code == 422
    assert r.json()["detail"].startswith("Invalid request: field 'series.0.future.promo.0'")


def test_forecast_horizon_sets_the_future_length(served: tuple[TestClient, Path]) -> None:
    client, _ = served
    body = _promo_body(future={"promo": [1.0] * 4})
    r = client.post("/v1/models/promo/forecast", json={**body, "horizon": 4})
    assert r.status_code == 200 and len(r.json()["forecasts"][0]["mean"]) == 4


def test_forecast_covariates_sent_to_a_model_without_them_is_422(
    served: tuple[TestClient, Path],
) -> None:
    client, _ = served
    values = [50.0 + (i % 5) for i in range(30)]
    r = client.post(
        "/v1/models/bdays/forecast",
        json={"series": [{"id": "x", "values": values, "future": {"promo": [1.0] * 5}}]},
    )
    assert r.status_code == 422 and r.json() == {
        "detail": "series 'x': model 'bdays' reads no covariates (it was trained without "
        "--future-cols); drop 'covariates' and 'future'."
    }


def test_monthly_model_keeps_month_ends(served: tuple[TestClient, Path]) -> None:
    client, models = served
    manifest = Manifest.read(models / "monthly" / "1" / "manifest.json")
    assert (manifest.freq, manifest.season) == ("ME", 12)
    assert manifest.covariates is not None and manifest.covariates.calendar == ["month"]
    stamps = [t.isoformat() for t in pd.date_range("2015-01-31", periods=60, freq="ME")]
    values = [50.0 + 5 * math.sin(2 * math.pi * i / 12) for i in range(60)]
    r = client.post(
        "/v1/models/monthly/forecast",
        json={"series": [{"id": "m", "values": values, "timestamps": stamps}], "horizon": 3},
    )
    assert r.status_code == 200, r.text
    assert r.json()["forecasts"][0]["timestamps"] == [
        "2020-01-31T00:00:00",
        "2020-02-29T00:00:00",
        "2020-03-31T00:00:00",
    ]
    r = client.post(
        "/v1/models/monthly/forecast",
        json={"series": [{"id": "m", "values": values, "future": {"promo": [1.0]}}]},
    )
    assert r.status_code == 422 and r.json()["detail"] == (
        "series 'm': this model reads calendar features (month); give 'timestamps', one per "
        "history value."
    )
    r = client.post(
        "/v1/models/monthly/forecast",
        json={"series": [{"id": "m", "values": values, "timestamps": stamps, "future": {}}]},
    )
    assert r.status_code == 422 and r.json()["detail"] == (
        "series 'm': this model has no known-future columns (its covariates are calendar "
        "features from the timestamps); drop 'future'."
    )


def test_stamps_are_read_as_the_trainer_reads_them(served: tuple[TestClient, Path]) -> None:
    """'2015-01' (a month, as AirPassengers writes it) is a stamp to pandas and to training, so
    the service takes it too; text that is no date is a 422 naming the series."""
    client, _ = served
    stamps = [f"{2015 + i // 12}-{i % 12 + 1:02d}" for i in range(60)]
    values = [50.0 + 5 * math.sin(2 * math.pi * i / 12) for i in range(60)]
    body = {"series": [{"id": "m", "values": values, "timestamps": stamps}], "horizon": 2}
    r = client.post("/v1/models/monthly/forecast", json=body)
    assert r.status_code == 200, r.text
    assert len(r.json()["forecasts"][0]["timestamps"]) == 2
    body["series"][0]["timestamps"] = stamps[:-1] + ["not a date"]
    r = client.post("/v1/models/monthly/forecast", json=body)
    assert r.status_code == 422
    assert r.json()["detail"].startswith("series 'm': timestamps are not ISO-8601 date-times")


def test_business_day_model_skips_weekends(served: tuple[TestClient, Path]) -> None:
    client, models = served
    manifest = Manifest.read(models / "bdays" / "1" / "manifest.json")
    assert (manifest.freq, manifest.season, manifest.covariates) == ("B", 5, None)
    stamps = [t.isoformat() for t in pd.date_range("2024-01-01", "2024-02-09", freq="B")]
    values = [50.0 + (i % 5) for i in range(len(stamps))]  # ends on Friday 2024-02-09
    r = client.post(
        "/v1/models/bdays/forecast",
        json={"series": [{"id": "b", "values": values, "timestamps": stamps}], "horizon": 2},
    )
    assert r.status_code == 200, r.text
    assert r.json()["forecasts"][0]["timestamps"] == ["2024-02-12T00:00:00", "2024-02-13T00:00:00"]
    r = client.post("/v1/models/bdays/forecast", json={"series": [{"id": "b", "values": values}]})
    assert r.status_code == 200 and "timestamps" not in r.json()["forecasts"][0]


def test_hourly_shipped_model_returns_horizon_stamps(client: TestClient) -> None:
    """etth1_ot (freq 'h', no covariates): the same numbers with or without timestamps, and the
    horizon's stamps when they were sent."""
    values = [20.0 + 5 * math.sin(i / 24 * 2 * math.pi) for i in range(200)]
    stamps = _hours(200, start="2024-03-23T16:00:00")  # the last one is 2024-03-31T23:00
    body = {"series": [{"id": "h", "values": values, "timestamps": stamps}], "horizon": 3}
    r = client.post("/v1/models/etth1_ot/forecast", json=body)
    assert r.status_code == 200, r.text
    item = r.json()["forecasts"][0]
    assert item["timestamps"] == [
        "2024-04-01T00:00:00",
        "2024-04-01T01:00:00",
        "2024-04-01T02:00:00",
    ]
    plain = client.post(
        "/v1/models/etth1_ot/forecast", json={**body, "series": [{"id": "h", "values": values}]}
    ).json()["forecasts"][0]
    assert plain == {k: v for k, v in item.items() if k != "timestamps"}


def test_graph_check_refuses_a_manifest_with_other_covariates(
    served: tuple[TestClient, Path],
) -> None:
    import onnxruntime as ort

    from service.repository import ModelRefused, check_graph

    _, models = served
    version = models / "promo" / "1"
    manifest = Manifest.read(version / "manifest.json")
    session = ort.InferenceSession(str(version / "model.onnx"), providers=["CPUExecutionProvider"])
    check_graph(session, manifest)  # as exported: runs
    assert manifest.covariates is not None
    wrong = manifest.model_copy(
        update={"covariates": manifest.covariates.model_copy(update={"future": ["promo", "price"]})}
    )
    with pytest.raises(ModelRefused, match="does not run on the manifest's shapes"):
        check_graph(session, wrong)
