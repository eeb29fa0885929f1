"""A forecast table's calendar as users' tables hold it (training/data/table_forecast.py): rows
missing from a fixed spacing are inserted as missing values (so the spacing, its frequency and
its season stand), and a timetable (business hours: nights and weekends absent) takes one day
of its rows for its season."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rnngan.core.tables.timecol import prepare_frame
from training.config import RunConfig, from_dict
from training.data.forecast_calendar import fill_missing_rows, table_season, timetable_rows
from training.data.table_forecast import load_table_forecast


def _hourly(days: int = 30, ids: tuple[str, ...] = ("a", "b")) -> pd.DataFrame:
    stamps = pd.date_range("2024-01-01", periods=24 * days, freq="h")
    hours = np.arange(len(stamps))
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "id": i,
                    "t": stamps.strftime("%Y-%m-%d %H:%M"),
                    "y": np.sin(2 * np.pi * hours / 24) + k + 3.0,
                    "region": f"r{k}",
                }
            )
            for k, i in enumerate(ids)
        ],
        ignore_index=True,
    )


def _business_hours(weeks: int = 8) -> pd.DataFrame:
    """Five-minute counts 09:00-16:55 on weekdays only: 96 rows a day, none at night."""
    days = pd.bdate_range("2024-01-01", periods=5 * weeks)
    stamps = pd.DatetimeIndex(
        [day + pd.Timedelta(minutes=9 * 60 + 5 * k) for day in days for k in range(96)]
    )
    slot = np.tile(np.arange(96), len(days))
    return pd.DataFrame({"id": "calls", "t": stamps, "y": 50 + 30 * np.sin(np.pi * slot / 96)})


def test_rows_missing_from_an_hourly_spacing_are_inserted_as_missing_values() -> None:
    frame = _hourly()
    absent = frame.index[(frame.id == "a") & frame.index.isin([30, 31, 400])]
    frame = frame.drop(index=absent)
    prepared, spec = prepare_frame(frame, "id", "t")
    assert spec is not None and not spec.regular and spec.freq is None
    filled, spec, inserted = fill_missing_rows(prepared, "id", spec, ("y",))
    assert spec is not None and spec.regular and spec.freq == "h"
    assert inserted == [("a", 3)]
    a = filled[filled.id == "a"].reset_index(drop=True)
    assert len(a) == 24 * 30 and np.flatnonzero(a.y.isna()).tolist() == [30, 31, 400]
    assert (a.region == "r0").all()  # other columns repeat the row before: a static stays one
    assert a.t.isna().sum() == 3  # the time column is not made up
    assert np.allclose(np.diff(a["__t"]), 3600.0)
    assert table_season(filled, "id", spec) == (24, "the time column's frequency, h")


def test_nights_and_weekends_are_not_filled_in_but_make_a_timetable() -> None:
    frame = _business_hours()
    prepared, spec = prepare_frame(frame, "id", "t")
    same, spec_after, inserted = fill_missing_rows(prepared, "id", spec, ("y",))
    assert inserted == [] and spec_after == spec and same is prepared
    assert timetable_rows(prepared, "id", spec) == 96
    season, why = table_season(prepared, "id", spec)
    assert season == 96 and why == "the time column's timetable: every day holds the same 96 rows"


@pytest.mark.parametrize("odd", ["extra time of day", "ragged days"])
def test_a_stamp_pattern_that_is_no_timetable_has_no_season(odd: str) -> None:
    frame = _business_hours()
    if odd == "extra time of day":  # one day with a row outside the timetable
        extra = frame.iloc[[100]].assign(t=pd.Timestamp("2024-01-03 20:00"))
        frame = pd.concat([frame, extra], ignore_index=True)
    else:  # days cut short at random: no count holds for 90 % of them
        keep = np.random.default_rng(0).random(len(frame)) > 0.05
        frame = frame[keep]
    prepared, spec = prepare_frame(frame, "id", "t")
    assert timetable_rows(prepared, "id", spec) == 0
    assert table_season(prepared, "id", spec) == (1, "the time column's spacing")


def test_training_reads_an_hourly_panel_with_missing_rows_as_hourly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The loader and the CLI (`forecast_sizes`) agree: season 24, a day ahead; the inserted
    rows are warned about and are gaps (never scored)."""
    from rnngan.cli.table_args import forecast_sizes

    frame = _hourly(days=40)
    frame = frame.drop(index=frame.index[(frame.id == "b") & (frame.index % 97 == 0)])
    frame.to_csv(tmp_path / "p.csv", index=False)
    assert forecast_sizes(frame, "id", "t", horizon=0, context_len=0, season=0)[:2] == (24, 168)
    data = {"dataset": "table", "path": str(tmp_path / "p.csv"), "id_col": "id"}
    data |= {"time_col": "t", "target": "y", "context_len": 48, "horizon": 24, "season": 0}
    config = from_dict(RunConfig, {"name": "p", "task": "forecast", "data": data})
    with caplog.at_level("INFO", logger="rnngan.train"):
        loaded = load_table_forecast(config.data)
    assert loaded.season == 24 and loaded.freq == "h"
    assert (
        "10 rows missing from the time column's 'h' spacing inserted as missing values in 1 of 2 "
        "entities (b: 10)"
    ) in caplog.text
    assert "season 24 (inferred from the time column's frequency, h)" in caplog.text
    a, b = loaded.entities
    assert a.gaps is None and b.gaps is not None and int(b.gaps.sum()) == 10
    assert len(b.values) == 24 * 40 and not np.isnan(b.values).any()


def test_clock_jitter_keeps_every_real_value_and_ids_keep_their_type() -> None:
    """Stamps a few milliseconds off the hour (a logger's clock) with one row missing: every
    real value stays where it was, one row is inserted; a categorical id with an unused
    category and an integer column keep their types."""
    stamps = pd.date_range("2024-01-01", periods=48, freq="h") + pd.to_timedelta(
        np.tile([2, 1, 0], 16), unit="ms"
    )
    frame = pd.DataFrame(
        {
            "id": pd.Categorical(["a"] * 48, categories=["a", "z"]),
            "t": stamps,
            "y": np.arange(48.0),
            "floor": 3,
        }
    ).drop(index=[5])
    prepared, spec = prepare_frame(frame, "id", "t")
    filled, spec, inserted = fill_missing_rows(prepared, "id", spec, ("y",))
    assert inserted == [("a", 1)] and spec is not None and spec.freq == "h"
    assert np.flatnonzero(filled.y.isna()).tolist() == [5]
    assert filled.y.drop(index=5).tolist() == [v for v in range(48) if v != 5]
    assert filled.id.dtype == frame.id.dtype and filled.floor.dtype == frame.floor.dtype


def test_an_entity_mostly_missing_leaves_the_table_as_it_is() -> None:
    """One entity with more than half its steps missing (a daily series beside hourly ones):
    no rows are made up for it, and the table keeps its stamps (season from the spacing)."""
    frame = _hourly(days=30, ids=("a", "b", "c", "d", "e", "f", "g", "h"))
    daily = frame[(frame.id == "h") & (np.arange(len(frame)) % 24 == 0)]
    frame = pd.concat([frame[frame.id != "h"], daily], ignore_index=True)
    prepared, spec = prepare_frame(frame, "id", "t")
    same, spec_after, inserted = fill_missing_rows(prepared, "id", spec, ("y",))
    assert inserted == [] and spec_after == spec and same is prepared


def test_a_timetable_in_local_time_across_daylight_saving_is_found() -> None:
    """Business hours written with their UTC offset (+01:00, then +02:00 after the change)
    and a second entity in another zone: the days are each stamp's own wall clock."""
    days = pd.bdate_range("2024-03-04", periods=40)
    berlin = pd.DatetimeIndex(
        [d + pd.Timedelta(hours=9, minutes=30 * k) for d in days for k in range(16)]
    ).tz_localize("Europe/Berlin")
    york = berlin.tz_localize(None).tz_localize("America/New_York")
    frame = pd.concat(
        [
            pd.DataFrame({"id": "de", "t": berlin.strftime("%Y-%m-%dT%H:%M:%S%z"), "y": 1.0}),
            pd.DataFrame({"id": "us", "t": york.strftime("%Y-%m-%dT%H:%M:%S%z"), "y": 2.0}),
        ],
        ignore_index=True,
    )
    prepared, spec = prepare_frame(frame, "id", "t")
    assert timetable_rows(prepared, "id", spec) == 16
