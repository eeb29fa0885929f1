"""What `rnngan train --data` infers when the command line leaves it out (rnngan/cli/table_args.py):
the time column, the forecast target, one series without --id-col, and the errors where the
table does not say."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rnngan.cli.table_args import (
    ONE_SERIES_ID,
    TableArgsError,
    resolve,
    row_numbers,
    target_candidates,
    time_candidates,
)


def _one_series(rows: int = 120) -> pd.DataFrame:
    t = np.arange(rows)
    return pd.DataFrame(
        {
            "date": pd.date_range("2024-01-01", periods=rows, freq="h").strftime("%Y-%m-%d %H:%M"),
            "load": 10 + np.sin(2 * np.pi * t / 24) + 0.1 * t,
            "note": ["a", "b", "c"] * (rows // 3),
        }
    )


def test_a_single_series_file_needs_no_id_time_or_target(tmp_path: Path) -> None:
    frame = _one_series()
    frame.to_csv(tmp_path / "meter.csv", index=False)
    args = resolve(
        tmp_path / "meter.csv",
        id_col=None,
        time_col=None,
        task="forecast",
        copy_dir=tmp_path / "run",
    )
    assert (args.id_col, args.time_col, args.target) == (ONE_SERIES_ID, "date", "load")
    assert args.data == tmp_path / "run" / "meter.series.parquet"
    copy = pd.read_parquet(args.data)
    # The copy is the file with a constant id column in front, nothing else changed.
    assert list(copy.columns) == [ONE_SERIES_ID, "date", "load", "note"]
    assert (copy[ONE_SERIES_ID] == ONE_SERIES_ID).all()
    pd.testing.assert_frame_equal(
        copy.drop(columns=ONE_SERIES_ID), pd.read_csv(tmp_path / "meter.csv")
    )
    assert any("one series" in n for n in args.notes) and any("date" in n for n in args.notes)


def test_an_existing_series_column_is_not_overwritten(tmp_path: Path) -> None:
    frame = _one_series().assign(series=7.0)
    frame.to_parquet(tmp_path / "meter.parquet", index=False)
    args = resolve(
        tmp_path / "meter.parquet", id_col=None, time_col="date", target="load", copy_dir=tmp_path
    )
    copy = pd.read_parquet(args.data)
    assert args.id_col == f"_{ONE_SERIES_ID}" and (copy["series"] == 7.0).all()


def test_a_panel_without_id_col_is_an_error_not_one_series(tmp_path: Path) -> None:
    frame = pd.concat([_one_series().assign(site=s) for s in ("a", "b")])
    frame.to_csv(tmp_path / "panel.csv", index=False)
    with pytest.raises(
        TableArgsError,
        match=r"120 rows repeat a value of the time column 'date'.*--id-col "
        r"\(columns that do: site\)",
    ):
        resolve(tmp_path / "panel.csv", id_col=None, time_col=None, copy_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_the_target_is_inferred_only_when_one_numeric_column_is_left(tmp_path: Path) -> None:
    frame = _one_series().assign(temp=1.5, promo=0.0, open=True)
    frame.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(TableArgsError, match="--target.*one of: load, temp, promo"):
        resolve(tmp_path / "t.csv", id_col=None, time_col=None, task="forecast", copy_dir=tmp_path)
    # Known-future and static columns are not targets; a boolean never is.
    args = resolve(
        tmp_path / "t.csv",
        id_col=None,
        time_col=None,
        task="forecast",
        future_cols="promo",
        static_cols="temp",
        copy_dir=tmp_path,
    )
    assert args.target == "load"
    # Generation needs no target: nothing is asked.
    assert resolve(tmp_path / "t.csv", id_col=None, time_col=None, copy_dir=tmp_path).target is None


def test_time_candidates_take_dates_not_numbers_or_labels() -> None:
    frame = pd.DataFrame(
        {
            "when": ["2024-01-01", "2024-01-02", "2024-01-03"],
            "stamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
            "code": ["12", "13", "14"],
            "label": ["sun", "rain", "sun"],
            "version": ["1.2", "1.3", "1.4"],
            "value": [1.0, 2.0, 3.0],
            "same": ["2024-01-01"] * 3,
            "day": [20240130, 20240131, 20240201],  # yyyymmdd integers
            "not_a_day": [20240130, 20240131, 20240132],
            "counter": [10000101, 10000102, 10000103] + np.array([0, 0, 99]),  # day 99: no
        }
    )
    assert time_candidates(frame, set()) == ["when", "stamp", "day"]
    assert target_candidates(frame, set()) == ["value", "day", "not_a_day", "counter"]


def _daily_panel(days: int = 60) -> pd.DataFrame:
    """Two shops' daily sales, the date written as yyyymmdd integers (a month boundary and a
    year boundary inside: as numbers, gaps of 1, 70 and 8,870)."""
    dates = pd.date_range("2023-12-01", periods=days, freq="D")
    t = np.arange(days)
    return pd.concat(
        pd.DataFrame(
            {
                "shop": shop,
                "date": dates.strftime("%Y%m%d").astype(int),
                "sales": level + np.sin(2 * np.pi * t / 7),
            }
        )
        for shop, level in (("a", 10.0), ("b", 50.0))
    )


def test_yyyymmdd_integers_are_read_as_dates_through_a_copy(tmp_path: Path) -> None:
    """A daily panel dated 20231201 …: read as dates (a copy in the run directory, said on the
    terminal), so the spacing is a day and the season a week, not irregular numbers."""
    _daily_panel().to_csv(tmp_path / "shops.csv", index=False)
    args = resolve(
        tmp_path / "shops.csv",
        id_col="shop",
        time_col="date",
        task="forecast",
        target="sales",
        horizon=0,
        context_len=0,
        copy_dir=tmp_path / "run",
    )
    assert args.data == tmp_path / "run" / "shops.dates.parquet"
    copy = pd.read_parquet(args.data)
    original = pd.read_csv(tmp_path / "shops.csv")
    assert pd.api.types.is_datetime64_any_dtype(copy["date"])
    assert (copy["date"].dt.strftime("%Y%m%d").astype(int) == original["date"]).all()
    pd.testing.assert_frame_equal(copy.drop(columns="date"), original.drop(columns="date"))
    assert any("yyyymmdd integers, read as dates" in n for n in args.notes)
    assert args.horizon == 7  # one season of daily data
    # Inferred as the time column too, and through the one-series copy without --id-col.
    _daily_panel().query("shop == 'a'").drop(columns="shop").to_csv(
        tmp_path / "one.csv", index=False
    )
    one = resolve(tmp_path / "one.csv", id_col=None, time_col=None, copy_dir=tmp_path / "one")
    assert one.time_col == "date" and one.data == tmp_path / "one" / "one.series.parquet"
    assert pd.api.types.is_datetime64_any_dtype(pd.read_parquet(one.data)["date"])
    # Integers that are not all calendar days stay numbers, and the table is read in place.
    numbers = _daily_panel().reset_index(drop=True)
    numbers.loc[0, "date"] = 20231132  # no 32nd of November
    numbers.to_csv(tmp_path / "numbers.csv", index=False)
    kept = resolve(tmp_path / "numbers.csv", id_col="shop", time_col="date")
    assert kept.data == tmp_path / "numbers.csv" and not kept.notes


def test_integer_years_are_read_as_yearly_dates(tmp_path: Path) -> None:
    """A yearly panel kept as integers (`year` 1960 … 2020): found as the time column by its
    name, read as each year's 1 January through a copy, so the frequency is yearly and the
    horizon the yearly 6, not a cut of "no season"; under another name the integers are a
    numeric column, unless --time-col names them."""
    years = np.arange(1960, 2021)
    frame = pd.concat(
        pd.DataFrame({"country": c, "year": years, "gdp": level * 1.02 ** (years - 1960)})
        for c, level in (("a", 100.0), ("b", 300.0))
    )
    frame.to_csv(tmp_path / "gdp.csv", index=False)
    args = resolve(
        tmp_path / "gdp.csv",
        id_col="country",
        time_col=None,
        task="forecast",
        horizon=0,
        context_len=0,
        copy_dir=tmp_path / "run",
    )
    assert args.time_col == "year" and args.target == "gdp" and args.horizon == 6
    assert any("years as integers, each read as its 1 January" in n for n in args.notes)
    copy = pd.read_parquet(args.data)
    assert copy["year"].dt.strftime("%Y-%m-%d").tolist()[:2] == ["1960-01-01", "1961-01-01"]
    # Another name: no time column found, two numeric columns; named by --time-col: years.
    frame.rename(columns={"year": "t"}).to_csv(tmp_path / "t.csv", index=False)
    assert time_candidates(pd.read_csv(tmp_path / "t.csv"), {"country"}) == []
    named = resolve(
        tmp_path / "t.csv",
        id_col="country",
        time_col="t",
        task="forecast",
        horizon=0,
        context_len=0,
        copy_dir=tmp_path / "t",
    )
    assert named.horizon == 6 and named.target == "gdp"
    # Integers outside 1000-2999 under a year's name stay numbers.
    assert time_candidates(pd.DataFrame({"year": [1, 2, 3]}), set()) == []


def test_row_numbers_are_neither_a_target_nor_a_modeled_column(tmp_path: Path) -> None:
    """A column counting the rows in file order (R's `rownames` 1 … N, pandas' unnamed index
    0 … N-1) is not a target candidate, and generation leaves it out unless --columns names
    it; a counter that restarts per series or skips a row is data."""
    frame = pd.concat(
        pd.DataFrame({"country": c, "year": np.arange(1960, 2000), "pop": level + np.arange(40)})
        for c, level in (("a", 100.0), ("b", 300.0), ("c", 50.0))
    ).reset_index(drop=True)
    frame.insert(0, "rownames", np.arange(1, len(frame) + 1))
    frame.insert(1, "Unnamed: 0", np.arange(len(frame)))
    frame["age"] = np.tile(np.arange(40), 3)  # restarts per country: data
    frame["skips"] = np.r_[1:60, 61 : len(frame) + 2]  # 60 missing: data
    frame["scale"] = np.arange(1.0, len(frame) + 1)  # floats: data
    assert row_numbers(frame, {"country", "year"}) == ["rownames", "Unnamed: 0"]
    assert row_numbers(frame.iloc[::-1], set()) == []  # not in file order
    frame[["rownames", "country", "year", "pop"]].to_csv(tmp_path / "pop.csv", index=False)
    args = resolve(
        tmp_path / "pop.csv",
        id_col="country",
        time_col=None,
        task="forecast",
        copy_dir=tmp_path / "run",
    )
    assert args.target == "pop"
    assert any("besides the row numbers in rownames" in n for n in args.notes)
    assert args.columns is None  # forecasting reads the target alone
    generate = resolve(tmp_path / "pop.csv", id_col="country", time_col="year", copy_dir=tmp_path)
    assert generate.columns == "pop"
    assert any("rownames: row numbers" in n for n in generate.notes)
    chosen = resolve(
        tmp_path / "pop.csv",
        id_col="country",
        time_col="year",
        columns="rownames",
        copy_dir=tmp_path,
    )
    assert chosen.columns == "rownames" and not any("row numbers" in n for n in chosen.notes)


@pytest.mark.parametrize(
    ("spelled", "first", "what"),
    [
        (["1998 Q1", "1998 Q2", "1998Q3", "1998-Q4"], "1998-01-01", "quarters"),
        (["2001 W05", "2001-W06", "2001 W7"], "2001-01-29", "ISO weeks"),
        (["1939 Jan", "1939 Feb", "Mar 1939"], "1939-01-01", "months by name"),
    ],
)
def test_periods_spelled_as_text_are_read_as_their_first_day(
    spelled: list[str], first: str, what: str
) -> None:
    """tsibble's yearquarter / yearweek / yearmonth as written to CSV: each its period's first
    day, so the spacing is a calendar frequency and the season follows from it."""
    from rnngan.client.stamps import spelled_periods

    found = spelled_periods(pd.Series(spelled))
    assert found is not None and found[1].startswith(what)
    dates, _ = found
    assert dates.iloc[0] == pd.Timestamp(first) and dates.is_monotonic_increasing
    for other in (
        ["1998 Q1", "1998 Q5"],
        ["1998 Q1", "2001 W05"],
        ["1998 Q1"] * 2,
        ["a", "b"],
        ["2021 W53", "2022 W01"],  # 2021 has 52 ISO weeks: not 2022 W01 twice
        ["2020 Total", "2021 Total"],
    ):
        assert spelled_periods(pd.Series(other)) is None, other
    assert spelled_periods(pd.Series([1998, 1999])) is None


def test_a_quarterly_panel_in_tsibble_spelling_forecasts_a_year(tmp_path: Path) -> None:
    """A long table as fpp3 writes it ("1998 Q1", a state column, no --id-col): the error names
    the id column; with it, the quarters are dates (a copy), the season 4, the horizon a year."""
    quarters = [f"{y} Q{q}" for y in range(1990, 2010) for q in range(1, 5)]
    frame = pd.concat(
        pd.DataFrame({"Date": quarters, "State": s, "Takings": 10.0 + i + np.arange(80) % 4})
        for i, s in enumerate(["NSW", "VIC", "QLD"])
    )
    frame.to_csv(tmp_path / "acc.csv", index=False)
    with pytest.raises(TableArgsError, match=r"\(columns that do: State\)"):
        resolve(tmp_path / "acc.csv", id_col=None, time_col=None, copy_dir=tmp_path / "one")
    args = resolve(
        tmp_path / "acc.csv",
        id_col="State",
        time_col=None,
        task="forecast",
        horizon=0,
        context_len=0,
        copy_dir=tmp_path / "run",
    )
    assert args.time_col == "Date" and args.target == "Takings"
    assert args.data == tmp_path / "run" / "acc.dates.parquet"
    assert any("quarters (1998 Q1), each read as its first day" in n for n in args.notes)
    copy = pd.read_parquet(args.data)
    assert copy["Date"].iloc[:2].tolist() == [
        pd.Timestamp("1990-01-01"),
        pd.Timestamp("1990-04-01"),
    ]
    assert args.horizon == 4


@pytest.mark.parametrize("spell", ["yyyymmdd", "iso", "quarter"])
def test_a_long_panel_sorted_by_time_is_found_to_hold_several_series(
    tmp_path: Path, spell: str
) -> None:
    """250 stores, rows sorted by date: the first few hundred rows hold one date, yet the date
    column is found and the table is several series (not one of interleaved rows); the error
    names the store column, not the integer sales column beside it."""
    days = pd.date_range("2023-12-01", periods=30, freq="D")
    stamps = {
        "yyyymmdd": days.strftime("%Y%m%d").astype(int),
        "iso": days.strftime("%Y-%m-%d"),
        "quarter": [f"{2000 + i // 4} Q{i % 4 + 1}" for i in range(30)],
    }[spell]
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "date": np.repeat(stamps, 250),
            "store": np.tile([f"s{i:03d}" for i in range(250)], 30),
            "sales": rng.permutation(250 * 30),  # integers, each (sales, date) pair unique
        }
    )
    frame.to_csv(tmp_path / "stores.csv", index=False)
    with pytest.raises(TableArgsError, match=r"time column 'date'.*\(columns that do: store\)$"):
        resolve(tmp_path / "stores.csv", id_col=None, time_col=None, copy_dir=tmp_path / "run")


def test_cli_inspects_and_trains_on_yyyymmdd_dates_as_a_daily_spacing(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from rnngan.cli import app
    from training.checkpoint import load_run

    _daily_panel().to_csv(tmp_path / "shops.csv", index=False)
    data = ["--data", str(tmp_path / "shops.csv"), "--id-col", "shop"]
    out = CliRunner().invoke(app, ["inspect", *data])
    assert out.exit_code == 0, out.output
    assert "time column: date (inferred" in out.output
    assert "yyyymmdd integers, read as dates" in out.output
    assert "time column: date (datetime, regular every D)" in out.output
    out = CliRunner().invoke(
        app,
        ["train", *data, "--task", "forecast", "--context-len", "16", "--steps", "4"]
        + ["--out-dir", str(tmp_path / "runs")],
    )
    assert out.exit_code == 0, out.output
    run = tmp_path / "runs" / "shops"
    config = load_run(run).config.data
    assert Path(str(config.path)) == run / "shops.dates.parquet"
    assert "horizon: 7 steps" in out.output  # a week of days, not 24 numbered rows


def test_two_date_columns_leave_the_time_column_to_the_user(tmp_path: Path) -> None:
    frame = _one_series().assign(shipped=lambda f: f["date"])
    frame.to_csv(tmp_path / "two.csv", index=False)
    args = resolve(tmp_path / "two.csv", id_col="note", time_col=None)
    assert args.time_col is None and "give --time-col" in args.notes[0]


def test_cli_trains_and_inspects_a_single_series_file(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from rnngan.cli import app

    _one_series(rows=240).drop(columns="note").to_csv(tmp_path / "meter.csv", index=False)
    runner = CliRunner()
    data = str(tmp_path / "meter.csv")
    out = runner.invoke(app, ["inspect", "--data", data])
    assert out.exit_code == 0, out.output
    assert f"id column: {ONE_SERIES_ID}" in out.output and "load" in out.output
    out = runner.invoke(
        app,
        ["train", "--data", data, "--task", "forecast", "--horizon", "12", "--context-len", "48"]
        + ["--steps", "20", "--out-dir", str(tmp_path / "runs")],
    )
    assert out.exit_code == 0, out.output
    run = tmp_path / "runs" / "meter"
    assert (run / "checkpoint.pt").is_file() and (run / "meter.series.parquet").is_file()
    assert "target: load" in out.output
    from training.checkpoint import load_run

    d = load_run(run).config.data
    assert (d.id_col, d.time_col, d.target) == (ONE_SERIES_ID, "date", "load")
    assert Path(str(d.path)) == run / "meter.series.parquet"


@pytest.mark.parametrize(
    ("freq", "rows", "horizon", "context"),
    [
        ("h", 2000, 24, 168),  # hourly: a day ahead, a week read (the defaults before)
        ("D", 400, 7, 168),
        ("MS", 144, 12, 168),  # AirPassengers: a year ahead; 24 found no validation window
        ("MS", 60, 9, 168),  # cut to the 9 rows of the validation and test parts
        ("W", 80, 4, 168),  # the train part (56 rows) holds a season of 52 and 4 more
        ("h", 40, 4, 168),
        ("5min", 3000, 48, 576),  # 168 steps would not cover two seasons of 288
        (None, 500, 24, 168),  # numbered rows: no season
        ("YE", 150, 6, 168),  # yearly: no season, six years ahead as in M3 and M4
        ("YS", 30, 4, 168),  # a short yearly series: cut to its 4-row test part
        ("2YS", 100, 15, 168),  # every other year: no season, 24 cut to the 15-row parts
    ],
)
def test_forecast_sizes_follow_the_frequency_and_fit_the_series(
    freq: str | None, rows: int, horizon: int, context: int
) -> None:
    from rnngan.cli.table_args import forecast_sizes

    stamps = pd.date_range("2024-01-01", periods=rows, freq=freq) if freq else np.arange(rows)
    frame = pd.DataFrame({"t": stamps, "y": np.arange(rows, dtype=float)})
    got = forecast_sizes(frame, None, "t", horizon=0, context_len=0, season=0)
    assert got[:2] == (horizon, context)
    assert any(f"horizon: {horizon} steps" in n for n in got[2])
    # Given values are kept; a given season decides instead of the frequency.
    assert forecast_sizes(frame, None, "t", horizon=5, context_len=64, season=0)[:2] == (5, 64)
    assert forecast_sizes(frame, None, "t", horizon=0, context_len=64, season=4)[0] == 4


def test_a_given_season_of_one_keeps_the_yearly_horizon() -> None:
    from rnngan.cli.table_args import forecast_sizes

    frame = pd.DataFrame({"t": pd.date_range("1900", periods=150, freq="YS"), "y": 1.0})
    assert forecast_sizes(frame, None, "t", horizon=0, context_len=64, season=1)[:2] == (6, 64)


def test_blank_or_stray_repeated_stamps_are_not_taken_for_several_series(tmp_path: Path) -> None:
    """Without --id-col, trailing blank rows and one repeated hour (a clock set back) are the
    pipeline's own errors to name, not "several series"."""
    frame = _one_series().drop(columns="note")
    blanks = pd.concat([frame, pd.DataFrame({"date": [None, None], "load": [None, None]})])
    blanks.to_csv(tmp_path / "blanks.csv", index=False)
    args = resolve(tmp_path / "blanks.csv", id_col=None, time_col="date", copy_dir=tmp_path)
    assert args.id_col == ONE_SERIES_ID
    stray = pd.concat([frame, frame.iloc[[5]]])
    stray.to_csv(tmp_path / "stray.csv", index=False)
    assert resolve(tmp_path / "stray.csv", id_col=None, time_col="date", copy_dir=tmp_path).data
