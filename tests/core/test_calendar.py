"""Calendar features and frequencies (rnngan/core/calendar.py) and the time column's frequency
(rnngan/core/tables/timecol.py): hourly, daily, monthly and business-day data get their pandas
frequency, the season follows from it, and stamps advance by the pandas offset."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnngan.core.calendar import (
    CalendarError,
    auto_calendar,
    calendar_columns,
    calendar_values,
    next_stamps,
    parse_stamps,
    season_for_freq,
)
from rnngan.core.tables.timecol import prepare_frame
from tests.conftest import REPO


def _panel(freq: str, start: str = "2024-01-31", rows: int = 40) -> pd.DataFrame:
    stamps = list(pd.date_range(start, periods=rows, freq=freq))
    later = list(
        pd.date_range(pd.Timestamp(start) + pd.Timedelta(days=400), periods=rows, freq=freq)
    )
    return pd.DataFrame(
        {"id": ["a"] * rows + ["b"] * rows, "t": stamps + later, "y": np.arange(2 * rows)}
    )


@pytest.mark.parametrize(
    ("freq", "expected", "regular", "season"),
    [
        ("h", "h", True, 24),
        ("D", "D", True, 7),
        ("MS", "MS", False, 12),
        ("ME", "ME", False, 12),
        ("B", "B", False, 5),
    ],
)
def test_timecol_infers_the_pandas_frequency(
    freq: str, expected: str, regular: bool, season: int
) -> None:
    _, spec = prepare_frame(_panel(freq), "id", "t")
    assert spec is not None
    assert (spec.freq, spec.regular) == (expected, regular)
    assert season_for_freq(spec.freq) == season


def test_timecol_air_passengers_is_monthly() -> None:
    path = REPO / "data" / "AirPassengers.csv"
    if not path.is_file():
        pytest.skip("data/AirPassengers.csv is not in this checkout")
    frame = pd.read_csv(path).assign(series="air")
    _, spec = prepare_frame(frame, "series", "Month")
    assert spec is not None and spec.freq == "MS" and season_for_freq(spec.freq) == 12


def test_timecol_entities_that_disagree_have_no_frequency() -> None:
    frame = pd.concat([_panel("MS").iloc[:40], _panel("B").iloc[40:]])
    _, spec = prepare_frame(frame, "id", "t")
    assert spec is not None and spec.freq is None and not spec.regular


def test_season_for_freq_covers_the_calendar() -> None:
    got = {f: season_for_freq(f) for f in ["5min", "h", "2h", "D", "B", "W-SUN", "QS-JAN", "YS"]}
    assert got == {
        "5min": 288,
        "h": 24,
        "2h": 12,
        "D": 7,
        "B": 5,
        "W-SUN": 52,
        "QS-JAN": 4,
        "YS": 1,
    }
    assert season_for_freq(None) == 1
    with pytest.raises(CalendarError, match="not a pandas frequency"):
        season_for_freq("fortnightly")


def test_next_stamps_follow_the_pandas_offset() -> None:
    assert next_stamps("2024-01-31", "ME", 3) == [
        "2024-02-29T00:00:00",
        "2024-03-31T00:00:00",
        "2024-04-30T00:00:00",
    ]
    assert next_stamps("2024-01-05T00:00:00", "B", 2) == [  # a Friday: then Monday, Tuesday
        "2024-01-08T00:00:00",
        "2024-01-09T00:00:00",
    ]
    assert next_stamps("2024-03-01", "MS", 1) == ["2024-04-01T00:00:00"]
    assert next_stamps("2024-01-01T22:00:00+01:00", "h", 2) == [
        "2024-01-01T23:00:00+01:00",
        "2024-01-02T00:00:00+01:00",
    ]


def test_calendar_values_encode_hour_weekday_month_yearday() -> None:
    seconds = parse_stamps(
        ["2024-01-01T06:00:00", "2024-02-29T12:00:00Z", "2024-03-01T01:00+01:00"]
    )
    names = ["hour", "weekday", "month", "yearday"]
    values = calendar_values(seconds, names)
    assert values.shape == (3, 8) and values.dtype == np.float32
    angle = (
        2
        * np.pi
        * np.array([[6 / 24, 0 / 7, 0 / 12, 0 / 365.25], [12 / 24, 3 / 7, 1 / 12, 59 / 365.25]])
    )
    expected = np.stack([np.sin(angle), np.cos(angle)], axis=2).reshape(2, 8)
    np.testing.assert_allclose(values[:2], expected, atol=1e-6)
    # A zoned stamp is read in UTC, as the trainer reads a time column: 2024-03-01T00:00Z.
    np.testing.assert_allclose(values[2], calendar_values(seconds[1:2] + 12 * 3600, names)[0])
    assert calendar_columns(["hour"]) == ["hour_sin", "hour_cos"]
    with pytest.raises(CalendarError, match="unknown calendar feature"):
        calendar_values(seconds, ["season"])


def test_auto_calendar_fits_the_frequency() -> None:
    assert auto_calendar("h") == ("hour", "weekday")
    assert auto_calendar("D") == auto_calendar("B") == ("weekday", "yearday")
    assert auto_calendar("MS") == ("month",)
    assert auto_calendar("YS") == () and auto_calendar(None) == ()


@pytest.mark.parametrize("start", ["9999-12-31T23:00:00", "1500-01-01"])
def test_a_start_outside_nanosecond_stamps_is_a_table_error(start: str) -> None:
    """The spec says what is wrong with a requested `start` (TableError), whoever asks: the
    service's 422, `rnngan generate --start`."""
    from rnngan.core.tables.spec import TableError, TimeSpec

    spec = TimeSpec(column="d", kind="datetime", regular=True, step=3600, start_low=0, start_high=1)
    with pytest.raises(TableError, match=r"outside the date-times .*1677-09-22 to 2262-04-11"):
        spec.parse(start)
    assert spec.parse("2020-01-01T00:00:00+01:00") == pd.Timestamp("2019-12-31T23:00").timestamp()
