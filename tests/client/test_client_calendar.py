"""A user's calendar end to end, with the README's commands: `rnngan train --data` on a file of
business hours (nights and weekends absent: a timetable, its season one day of rows) and on an
hourly panel with rows missing (inserted: frequency `h`, season 24), `rnngan export`, the
server, then the client sent the files as they are."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from rnngan.cli import app as cli
from rnngan.client import Client
from service.config import Settings
from service.main import create_app

SLOTS = 8  # a business day: 09:00 … 16:30 every half hour, weekdays


def business_hours(weeks: int = 16) -> pd.DataFrame:
    """One series without an id column, stamps written with their UTC offset ("Z")."""
    days = pd.bdate_range("2024-01-01", periods=5 * weeks)
    stamps = [d + pd.Timedelta(hours=9, minutes=30 * k) for d in days for k in range(SLOTS)]
    slot = np.tile(np.arange(SLOTS), len(days))
    rng = np.random.default_rng(0)
    calls = 40 + 30 * np.sin(np.pi * slot / SLOTS) + rng.normal(0, 2, len(stamps))
    return pd.DataFrame(
        {"DateTime": pd.DatetimeIndex(stamps).strftime("%Y-%m-%dT%H:%M:%SZ"), "Calls": calls}
    )


def hourly_with_holes(days: int = 40) -> pd.DataFrame:
    stamps = pd.date_range("2024-01-01", periods=24 * days, freq="h")
    hours = np.arange(len(stamps))
    frame = pd.concat(
        [
            pd.DataFrame(
                {
                    "site": site,
                    "time": stamps.strftime("%Y-%m-%d %H:%M"),
                    "temp": 10 + k + 5 * np.sin(2 * np.pi * hours / 24),
                }
            )
            for k, site in enumerate(("north", "south"))
        ],
        ignore_index=True,
    )
    return frame.drop(index=frame.index[(frame.site == "south") & (frame.index % 101 == 50)])


def _train_export(tmp: Path, csv: str, *args: str) -> None:
    runner = CliRunner()
    train = ["train", "--data", str(tmp / csv), "--task", "forecast", "--steps", "20"]
    result = runner.invoke(cli, [*train, *args, "--out-dir", str(tmp / "runs")])
    assert result.exit_code == 0, result.output
    run = tmp / "runs" / Path(csv).stem
    export = ["export", "--run", str(run), "--models-dir", str(tmp / "models"), "--force"]
    result = runner.invoke(cli, export)
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    tmp = tmp_path_factory.mktemp("client-calendar")
    business_hours().to_csv(tmp / "calls.csv", index=False)
    hourly_with_holes().to_csv(tmp / "sites.csv", index=False)
    _train_export(tmp, "calls.csv")
    _train_export(tmp, "sites.csv", "--id-col", "site", "--target", "temp")
    app = create_app(Settings(models_dir=tmp / "models", _env_file=None))  # type: ignore[call-arg]
    with TestClient(app) as test_client:
        transport: httpx.BaseTransport = test_client._transport  # type: ignore[attr-defined]
        with Client("http://testserver", transport=transport) as client:
            yield client


def test_a_timetable_is_trained_on_one_day_of_rows_and_forecast_over_the_weekend(
    served: Client,
) -> None:
    manifest = served.model("calls")
    assert manifest.freq is None and manifest.season == SLOTS
    history = business_hours()  # ends on a Friday at 16:30
    fc = served.forecast("calls", history, time_col="DateTime", target_col="Calls")
    assert fc["unique_id"].unique().tolist() == ["series"]
    ahead = pd.DatetimeIndex(fc["DateTime"])
    assert ahead[0] == pd.Timestamp("2024-04-22 09:00", tz="UTC")  # the Monday after
    assert set(ahead.dayofweek) <= {0, 1, 2, 3, 4}
    slots = {f"{9 + k // 2:02d}:{30 * (k % 2):02d}" for k in range(SLOTS)}
    assert set(ahead.strftime("%H:%M")) <= slots


def test_rows_missing_from_an_hourly_panel_are_inserted_in_training_and_in_a_request(
    served: Client, caplog: pytest.LogCaptureFixture
) -> None:
    manifest = served.model("sites")
    assert manifest.freq == "h" and manifest.season == 24
    with caplog.at_level("WARNING", logger="rnngan.client"):
        fc = served.forecast(
            "sites", hourly_with_holes(), id_col="site", time_col="time", target_col="temp"
        )
    assert "rows missing from the 'h' frequency inserted in 1 of 2 series" in caplog.text
    assert fc.groupby("site").size().to_dict() == {"north": 24, "south": 24}
    first = fc.groupby("site")["time"].first()
    assert (first == pd.Timestamp("2024-02-10 00:00")).all()
