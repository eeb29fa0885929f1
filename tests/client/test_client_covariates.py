"""rnngan.client with a model that reads known-future covariates: a tiny forecaster trained with
`rnngan train --data … --future-cols promo` (a few steps), exported and served in-process; the
client's X_df goes out as each series' `future` and gives the numbers of the raw call."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from examples.tables import promo_panel
from rnngan.cli import app as cli
from rnngan.client import Client, InputError
from service.config import Settings
from service.main import create_app

CONTEXT, HORIZON = 48, 12


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Client, TestClient]]:
    tmp = tmp_path_factory.mktemp("client-covariates")
    promo_panel(entities=3, rows=24 * 25).to_csv(tmp / "promo.csv", index=False)
    runner = CliRunner()
    args = ["train", "--data", str(tmp / "promo.csv"), "--id-col", "store", "--time-col", "time"]
    args += ["--task", "forecast", "--target", "sales", "--steps", "20", "--name", "promo"]
    args += ["--context-len", str(CONTEXT), "--horizon", str(HORIZON), "--future-cols", "promo"]
    result = runner.invoke(cli, [*args, "--out-dir", str(tmp / "runs")])
    assert result.exit_code == 0, result.output
    export = ["export", "--run", str(tmp / "runs" / "promo"), "--models-dir", str(tmp / "models")]
    result = runner.invoke(cli, export)
    assert result.exit_code == 0, result.output
    app = create_app(Settings(models_dir=tmp / "models", _env_file=None))  # type: ignore[call-arg]
    with TestClient(app) as test_client:
        # The client over the in-process app (TestClient's transport).
        transport: httpx.BaseTransport = test_client._transport  # type: ignore[attr-defined]
        with Client("http://testserver", transport=transport) as client:
            yield client, test_client


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """History of two stores (their first 200 hours) and their promo flags for the next 12."""
    panel = promo_panel(entities=2, rows=200 + HORIZON, seed=3).rename(
        columns={"store": "unique_id", "time": "ds", "sales": "y"}
    )
    future = panel.groupby("unique_id").tail(HORIZON)[["unique_id", "ds", "promo"]]
    return panel.drop(future.index), future


def test_client_forecast_with_x_df_equals_the_raw_call(
    served: tuple[Client, TestClient],
) -> None:
    client, raw = served
    assert client.model("promo").covariates.future == ["promo"]  # type: ignore[union-attr]
    df, x_df = _frames()
    fc = client.forecast("promo", df, h=HORIZON, X_df=x_df, quantiles=[0.5], seed=4)
    assert list(fc.columns) == ["unique_id", "ds", "promo", "promo-q-0.5"]
    assert fc["ds"].tolist() == x_df["ds"].tolist()
    series = []
    for uid, g in df.groupby("unique_id"):
        g = g.tail(CONTEXT)
        series.append(
            {
                "id": uid,
                "values": g["y"].tolist(),
                "timestamps": [t.strftime("%Y-%m-%dT%H:%M:%S") for t in g["ds"]],
                "covariates": {"promo": g["promo"].astype(float).tolist()},
                "future": {
                    "promo": x_df.loc[x_df["unique_id"] == uid, "promo"].astype(float).tolist()
                },
            }
        )
    body = {"series": series, "horizon": HORIZON, "quantiles": [0.5], "seed": 4}
    r = raw.post("/v1/models/promo/forecast", json=body)
    assert r.status_code == 200, r.text
    expected = [v for f in r.json()["forecasts"] for v in f["mean"]]
    assert fc["promo"].tolist() == expected
    # Other promotions, other forecasts: the covariates reach the model.
    flipped = x_df.assign(promo=1 - x_df["promo"])
    other = client.forecast("promo", df, h=HORIZON, X_df=flipped, quantiles=[0.5], seed=4)
    assert other["promo"].tolist() != expected


def test_client_forecast_without_x_df_on_a_covariate_model(
    served: tuple[Client, TestClient],
) -> None:
    client, _ = served
    df, _ = _frames()
    with pytest.raises(InputError, match=r"model 'promo' needs X_df with the future values of"):
        client.forecast("promo", df, h=HORIZON)


def test_client_mends_a_history_with_holes_as_training_does(
    served: tuple[Client, TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    """A blank target inside the context, a row missing from the hourly frequency, a blank
    covariate and a blank row before the first value: the forecast is the one of the history
    mended by hand (linear interpolation), said in a warning; `fill=False` refuses it."""
    client, _ = served
    df, x_df = _frames()
    df = df.reset_index(drop=True).assign(promo=lambda f: f["promo"].astype(float))
    a = df.index[df["unique_id"] == df["unique_id"].iloc[0]]
    holed = df.copy()
    holed.loc[a[160], "y"] = np.nan
    holed.loc[a[180], "promo"] = np.nan
    holed = holed.drop(index=a[170])
    before = holed.loc[[a[0]]].assign(ds=lambda f: f["ds"] - pd.Timedelta(hours=1), y=np.nan)
    holed = pd.concat([before, holed], ignore_index=True)
    mended = df.copy()
    for row, column in ((160, "y"), (170, "y"), (170, "promo"), (180, "promo")):
        mended.loc[a[row], column] = (df.loc[a[row - 1], column] + df.loc[a[row + 1], column]) / 2
    options = {"h": HORIZON, "X_df": x_df, "quantiles": [0.5], "seed": 4}
    with caplog.at_level("WARNING", logger="rnngan.client"):
        fc = client.forecast("promo", holed, **options)  # type: ignore[arg-type]
    assert (
        "1 blank row before a first or after a last y cut; 1 row missing from the 'h' "
        "frequency inserted; 1 blank y value filled by linear interpolation; 1 blank promo "
        "value filled by linear interpolation in 1 of 2 series"
    ) in caplog.text
    expected = client.forecast("promo", mended, **options)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(fc, expected)
    with pytest.raises(InputError, match=r"column 'y' has 2 NaN, infinite or non-numeric"):
        client.forecast("promo", holed, fill=False, **options)  # type: ignore[arg-type]
