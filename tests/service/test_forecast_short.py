"""Series shorter than the forecaster's context: a tiny forecaster trained with `rnngan train
--data … --task forecast` (the defaults train for short histories) on a panel with a short
entity, exported with `rnngan export` and served; the manifest says the shortest history it
takes (one season), the service pads a shorter history with NaN for the graph to fill, refuses
one under a season, and the client sends short series as they are. Models exported before (no
`min_history`) still need `context_len` values (tests/service/test_routes.py)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from examples.tables import promo_panel
from rnngan.client import Client
from rnngan.core.manifest import Manifest
from service.config import Settings
from service.main import create_app
from tests.helpers.forecaster import train_and_export
from training.checkpoint import load_run

CONTEXT, HORIZON, SEASON = 48, 12, 24


def _panel() -> pd.DataFrame:
    frame = promo_panel(entities=4, rows=24 * 20)
    # s3 keeps 80 rows: its train part (56) is shorter than context + horizon (60)
    last = frame[frame["store"] == "s3"].index[80:]
    return frame.drop(index=last).reset_index(drop=True)


def _train(tmp: Path, name: str, *extra: str, steps: int = 20) -> None:
    train_and_export(
        tmp,
        tmp / "stores.csv",
        name,
        *extra,
        id_col="store",
        target="sales",
        context=CONTEXT,
        horizon=HORIZON,
        steps=steps,
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Path]]:
    tmp = tmp_path_factory.mktemp("short")
    _panel().to_csv(tmp / "stores.csv", index=False)
    # long enough for validation to keep a trained step over step 0: the seasonal naive reads
    # only the last season, so the short-vs-full comparison below would have nothing to see
    # (40 steps did, before every window of a panel this small was mixed in training)
    _train(tmp, "stores", steps=150)
    selected = load_run(tmp / "runs" / "stores").selection
    assert selected is not None and selected.step > 0, "step 0 (the seasonal naive) was kept"
    _train(tmp, "promo", "--future-cols", "promo", "--calendar", "auto")
    app = create_app(Settings(models_dir=tmp / "models", _env_file=None))  # type: ignore[call-arg]
    with TestClient(app) as client:
        yield client, tmp


def _values(n: int) -> list[float]:
    """A daily cycle on a trend."""
    return [100.0 + 0.5 * (i - n) + 10 * math.sin(i / SEASON * 2 * math.pi) for i in range(n)]


def _hours(n: int) -> list[str]:
    return [t.isoformat() for t in pd.date_range("2024-03-01", periods=n, freq="h")]


def _forecast(client: TestClient, name: str, **series: Any) -> httpx.Response:
    body = {"series": [{"id": "a", **series}], "num_samples": 20, "return_samples": True}
    return client.post(f"/v1/models/{name}/forecast", json=body)


def test_manifest_says_the_shortest_history(served: tuple[TestClient, Path]) -> None:
    client, tmp = served
    manifest = Manifest.read(tmp / "models" / "stores" / "1" / "manifest.json")
    assert manifest.min_history == SEASON and manifest.context_len == CONTEXT
    assert client.get("/v1/models/stores").json()["min_history"] == SEASON
    card = client.get("/v1/models/stores/card").text
    assert "<tr><th>shortest history taken (min_history)</th><td>24</td></tr>" in card
    assert "history ≥ 24 and" in card and "from 24–48 values of history" in card


@pytest.mark.parametrize("n", [SEASON, 30, CONTEXT - 1])
def test_a_short_history_is_forecast(served: tuple[TestClient, Path], n: int) -> None:
    client, _ = served
    r = _forecast(client, "stores", values=_values(n))
    assert r.status_code == 200, r.text
    paths = np.asarray(r.json()["forecasts"][0]["samples"])
    assert paths.shape == (20, HORIZON) and np.isfinite(paths).all()
    # the same series with a full history is answered too, and differently (the filled
    # history repeats the first season, without the trend)
    full = _forecast(client, "stores", values=_values(CONTEXT)).json()
    assert full["forecasts"][0]["samples"] != r.json()["forecasts"][0]["samples"]


def test_a_history_under_a_season_is_refused(served: tuple[TestClient, Path]) -> None:
    client, _ = served
    r = _forecast(client, "stores", values=_values(SEASON - 1))
    assert r.status_code == 422
    assert r.json()["detail"] == (
        "series 'a': history has 23 values; this model needs at least 24 (one season; it reads "
        "up to 48)."
    )


def test_short_history_with_covariates(served: tuple[TestClient, Path]) -> None:
    """History covariates and timestamps come one per value, as for any history; the service
    pads them with the first row."""
    client, _ = served
    n = 30
    r = _forecast(
        client,
        "promo",
        values=_values(n),
        timestamps=_hours(n),
        covariates={"promo": [0.0] * n},
        future={"promo": [1.0] * HORIZON},
    )
    assert r.status_code == 200, r.text
    assert np.isfinite(np.asarray(r.json()["forecasts"][0]["samples"])).all()
    r = _forecast(
        client,
        "promo",
        values=_values(n),
        timestamps=_hours(n),
        covariates={"promo": [0.0] * (n - 1)},
        future={"promo": [1.0] * HORIZON},
    )
    assert r.status_code == 422 and "one per value" in r.json()["detail"]


def test_client_sends_short_series(served: tuple[TestClient, Path]) -> None:
    client, _ = served
    frame = pd.DataFrame(
        {
            "unique_id": ["long"] * 60 + ["short"] * 30,
            "ds": list(pd.date_range("2024-03-01", periods=60, freq="h"))
            + list(pd.date_range("2024-03-01", periods=30, freq="h")),
            "y": _values(60) + _values(30),
        }
    )
    transport: httpx.BaseTransport = client._transport  # type: ignore[attr-defined]
    with Client("http://testserver", transport=transport) as remote:
        out = remote.forecast("stores", frame, h=HORIZON, level=[80])
    assert sorted(out["unique_id"].unique()) == ["long", "short"]
    assert len(out) == 2 * HORIZON and np.isfinite(out["stores"]).all()
