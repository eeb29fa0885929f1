"""What `rnngan train --data` and `rnngan inspect` infer from the user's table before the run
config is built, each said on the terminal:

- the time column, when `--time-col` is not given and exactly one column holds date-times
  (a datetime dtype, text that parses as dates: `2024-01-31`, `01/31/2024 10:00` …, or
  integers that spell dates as yyyymmdd: `20240131`, periods spelled as text: `1998 Q1`,
  `2001 W05`, `1939 Jan`, or integers 1000-2999 in a column named as years: `year`, `Year`,
  `fiscal_year` …);
- dates written as yyyymmdd integers, years as integers or periods as text (given by
  `--time-col` or found as above): to the training pipeline an integer column is numbers
  (20240131 to 20240201 a gap of 70, no frequency, no season; 1960, 1961 … no yearly
  frequency, so no yearly horizon) and "1998 Q1" no date at all, so the table is copied into
  the run directory with that column as dates (a period's or a year's first day), and the copy
  is what the run reads (synthetic rows and forecasts then carry ISO dates);
- the forecast target, when `--target` is not given and exactly one numeric column is left
  besides the id, time, known-future and static columns and the row numbers;
- row numbers: an integer column counting the rows in file order, 1 … N or 0 … N-1 (the
  `rownames` R writes, the unnamed index pandas writes), is neither a forecast target
  candidate nor, without `--columns`, a column generation models;
- a forecast's horizon and context (`--horizon 0`, `--context-len 0`, the defaults): one season
  of the time column's frequency, at most 48 steps (6 for yearly data, as the M3 and M4
  competitions; 24 without a season: hourly data get a day, daily a week, monthly a year), cut
  to what the longest series' train, validation and
  test parts hold; a context of 168 steps, or two seasons where that is longer (5-minute data);
- one series, when `--id-col` is not given: the file is taken as a single entity. The training
  pipeline reads an id column, so the table is copied into the run directory with a constant
  one (`series`) added, and that copy is what the run reads and the manifest names. A table
  whose time column repeats a timestamp holds several series: that is an error asking for
  `--id-col` (naming the columns that tell them apart), not one series of interleaved rows (a
  stray repeated stamp is the pipeline's own error, naming it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

ONE_SERIES_ID = "series"
DEFAULT_HORIZON = 24  # without a frequency; also one season of hourly data
MAX_AUTO_HORIZON = 48
YEARLY_HORIZON = 6  # no season: six years ahead, as the M3 and M4 competitions forecast yearly data
DEFAULT_CONTEXT = 168
# Without --id-col: more than this share of rows repeating a timestamp means several series.
SEVERAL_SERIES_SHARE = 0.05
# Text that looks like a date or a time: digits, a separator, digits (2024-01-31, 31/01/2024,
# 10:00); plain numbers in text ("12") are not taken for dates.
_DATE_LIKE = re.compile(r"\d{1,4}[-/.:]\d{1,2}")
_SAMPLE = 200  # values of a text column tried as dates
# An integer column of years is found as the time column only under a name that says so
_YEAR_NAME = re.compile(r"(?i)(.*[ _.-])?(year|years|yr|yyyy|jahr|ann[eé]e|anno|a[nñ]o)")


class TableArgsError(ValueError):
    """The table does not say what the command line left out."""


@dataclass
class TableArgs:
    data: Path
    id_col: str
    time_col: str | None
    target: str | None
    notes: list[str] = field(default_factory=list)
    horizon: int = DEFAULT_HORIZON
    context_len: int = DEFAULT_CONTEXT
    columns: str | None = None  # --columns, or all but the row numbers when there are some


def yyyymmdd(values: pd.Series) -> pd.Series | None:
    """The dates an integer column spells as yyyymmdd (20240131 is 2024-01-31), or None when it
    is not such a column: every value eight digits (years 1000-2999) that name a calendar day
    (rnngan/client/stamps.py, as the client reads them), at least two distinct ones."""
    from rnngan.client.stamps import yyyymmdd_dates

    return yyyymmdd_dates(values) if values.nunique() > 1 else None


def years(values: pd.Series) -> pd.Series | None:
    """The 1 January of each year an integer column holds (1000-2999), or None when it is not
    such a column (rnngan/client/stamps.py, as the client reads them); at least two distinct
    years."""
    from rnngan.client.stamps import year_dates

    return year_dates(values) if values.nunique() > 1 else None


def read_as_dates(values: pd.Series) -> tuple[pd.Series, str] | None:
    """A column that spells dates in a way the training pipeline would not read as date-times
    (yyyymmdd integers, years as integers, periods as text): its dates and what it held; else
    None. Called on the time column only: any integers 1000-2999 there are years."""
    dates = yyyymmdd(values)
    if dates is not None:
        return dates, "yyyymmdd integers, read as dates"
    dates = years(values)
    if dates is not None:
        return dates, "years as integers, each read as its 1 January"
    from rnngan.client.stamps import spelled_periods

    return spelled_periods(values)


def _looks_like_time(values: pd.Series) -> bool:
    import pandas as pd

    from rnngan.client.stamps import spelled_periods

    if pd.api.types.is_datetime64_any_dtype(values.dtype) or yyyymmdd(values) is not None:
        return True
    if _YEAR_NAME.fullmatch(str(values.name)) and years(values) is not None:
        return True  # integers 1000-2999 named as years; elsewhere they may be any count
    if not (pd.api.types.is_object_dtype(values.dtype) or pd.api.types.is_string_dtype(values)):
        return False
    # Distinct values: a long table sorted by time repeats its first stamp once per series.
    distinct = values.dropna().astype(str).drop_duplicates()
    if spelled_periods(distinct) is not None:
        return True
    sample = distinct.head(_SAMPLE)
    if sample.empty or not sample.map(lambda v: bool(_DATE_LIKE.search(v))).all():
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().all()) and parsed.nunique() > 1


def time_candidates(frame: pd.DataFrame, skip: set[str]) -> list[str]:
    """The columns (outside `skip`) that hold date-times."""
    return [str(c) for c in frame.columns if c not in skip and _looks_like_time(frame[c])]


def target_candidates(frame: pd.DataFrame, skip: set[str]) -> list[str]:
    """The numeric columns (booleans excluded) outside `skip`."""
    import pandas as pd

    return [
        str(c)
        for c in frame.columns
        if c not in skip
        and pd.api.types.is_numeric_dtype(frame[c].dtype)
        and not pd.api.types.is_bool_dtype(frame[c].dtype)
    ]


def row_numbers(frame: pd.DataFrame, skip: set[str]) -> list[str]:
    """The integer columns outside `skip` that count the rows in file order: 1 … N or 0 … N-1."""
    import numpy as np
    import pandas as pd

    n = len(frame)
    found = []
    for c in frame.columns:
        values = frame[c]
        if c in skip or n < 3 or not pd.api.types.is_integer_dtype(values.dtype):
            continue
        start = values.iloc[0]
        if start in (0, 1) and np.array_equal(values.to_numpy(), np.arange(start, start + n)):
            found.append(str(c))
    return found


def _season(
    frame: pd.DataFrame, id_col: str | None, time_col: str | None
) -> tuple[int, str | None]:
    """The season training will infer (training/data/forecast_calendar.py `table_season`, after
    `fill_missing_rows`, as training/data/table_forecast.py does) and the time column's pandas
    frequency (None without one)."""
    from rnngan.core.tables.timecol import prepare_frame
    from training.data.forecast_calendar import fill_missing_rows, table_season

    if time_col is None:
        return 1, None
    if id_col is None:
        frame = frame.assign(**{f"_{ONE_SERIES_ID}": 0})
        id_col = f"_{ONE_SERIES_ID}"
    prepared, spec = prepare_frame(frame[[id_col, time_col]], id_col, time_col)
    prepared, spec, _ = fill_missing_rows(prepared, id_col, spec, ())
    if spec is None:
        return 1, None
    return table_season(prepared, id_col, spec)[0], spec.freq


def forecast_sizes(
    frame: pd.DataFrame,
    id_col: str | None,
    time_col: str | None,
    *,
    horizon: int,
    context_len: int,
    season: int,
) -> tuple[int, int, list[str]]:
    """`--horizon` and `--context-len`, 0 resolved (module docstring), with what was chosen."""
    from rnngan.client.stamps import is_yearly
    from training.config import DataConfig

    notes: list[str] = []
    if horizon > 0 and context_len > 0:
        return horizon, context_len, notes
    freq = None
    if season <= 0 or horizon <= 0:
        inferred, freq = _season(frame, id_col, time_col)
        season = season if season > 0 else inferred
    if context_len <= 0:
        context_len = max(DEFAULT_CONTEXT, -(-2 * season // 4) * 4)
        if context_len != DEFAULT_CONTEXT:
            notes.append(f"context: {context_len} steps (two seasons of {season}; --context-len)")
    if horizon <= 0:
        if season > 1:
            horizon = min(season, MAX_AUTO_HORIZON)
            why = f"one season of {season}, at most {MAX_AUTO_HORIZON}"
        elif is_yearly(freq):
            horizon, why = YEARLY_HORIZON, "yearly: the M3/M4 competitions' yearly horizon"
        else:
            horizon, why = DEFAULT_HORIZON, "no season"
        fields = DataConfig.__dataclass_fields__
        val, test = fields["val_share"].default, fields["test_share"].default
        rows = int(frame.groupby(id_col).size().max()) if id_col else len(frame)
        # Each entity is split by time: its validation and test parts must hold one horizon,
        # and its train part a season and a horizon (the shortest series training keeps).
        train_end, val_end = round(rows * (1 - val - test)), round(rows * (1 - test))
        fits = max(1, min(val_end - train_end, rows - val_end, train_end - max(season, 1)))
        if fits < horizon:
            horizon = fits
            why += f"; cut to {fits} to fit the longest series' {rows} rows"
        notes.append(f"horizon: {horizon} steps ({why}; --horizon to choose)")
    return horizon, context_len, notes


def _split(value: str | None) -> set[str]:
    return {v.strip() for v in value.split(",") if v.strip()} if value else set()


def resolve(
    data: Path,
    *,
    id_col: str | None,
    time_col: str | None,
    task: str = "generate",
    target: str | None = None,
    future_cols: str | None = None,
    static_cols: str | None = None,
    copy_dir: Path | None = None,
    horizon: int = DEFAULT_HORIZON,
    context_len: int = DEFAULT_CONTEXT,
    season: int = 0,
    columns: str | None = None,
) -> TableArgs:
    """Fill in what the command line left out from the table itself. `copy_dir`: where a
    one-series table's copy goes (without `--id-col`); required then."""
    from training.data.tables import read_user_table

    needs_target = task == "forecast" and not target
    needs_sizes = task == "forecast" and (horizon <= 0 or context_len <= 0)
    frame = read_user_table(data)
    notes: list[str] = []
    if id_col and id_col not in frame.columns:
        # The pipeline's own message, before anything is inferred around a wrong name.
        raise TableArgsError(
            f"column '{id_col}' is not in the table; columns: {list(frame.columns)}"
        )
    if time_col is None:
        found = time_candidates(frame, {id_col} if id_col else set())
        if len(found) == 1:
            time_col = found[0]
            notes.append(f"time column: {time_col} (inferred; --time-col to choose another)")
        elif found:
            notes.append(
                f"several columns hold date-times ({', '.join(found)}): none is used as the "
                "time column; give --time-col"
            )
    spelled = None
    if time_col is not None and time_col in frame.columns:
        found_dates = read_as_dates(frame[time_col])
        if found_dates is not None:
            frame[time_col], spelled = found_dates
    keys = {c for c in (id_col, time_col) if c}
    counters = row_numbers(frame, keys)
    if counters and task == "generate" and columns is None:
        kept = [str(c) for c in frame.columns if c not in keys and c not in counters]
        if kept:
            columns = ",".join(kept)
            notes.append(
                f"{', '.join(counters)}: row numbers (counting the rows in file order), left "
                "out of the columns modeled (--columns to choose)"
            )
    if needs_target:
        skip = keys | set(counters) | _split(future_cols) | _split(static_cols)
        numeric = target_candidates(frame, skip)
        if len(numeric) != 1:
            which = (
                f"one of: {', '.join(numeric)}" if numeric else "the table has no numeric column"
            )
            raise TableArgsError(f"forecasting needs --target, the column to forecast ({which})")
        target = numeric[0]
        besides = f" besides the row numbers in {', '.join(counters)}" if counters else ""
        notes.append(
            f"target: {target} (the only numeric column{besides}; --target to choose another)"
        )
    if needs_sizes:
        horizon, context_len, said = forecast_sizes(
            frame, id_col, time_col, horizon=horizon, context_len=context_len, season=season
        )
        notes += said
    if not id_col:
        assert copy_dir is not None, "a one-series table needs a directory for its copy"
        data, id_col = _one_series(frame, data, time_col, copy_dir, notes)
        if spelled:
            notes.append(f"time column: {time_col} holds {spelled}")
    elif spelled:
        assert copy_dir is not None, "a table with spelled dates needs a directory for its copy"
        copy_dir.mkdir(parents=True, exist_ok=True)
        copy = copy_dir / f"{data.name.split('.')[0]}.dates.parquet"
        frame.to_parquet(copy, index=False)
        notes.append(
            f"time column: {time_col} holds {spelled}; the run reads a "
            f"copy with them as dates, {copy}"
        )
        data = copy
    return TableArgs(data, id_col, time_col, target, notes, horizon, context_len, columns)


def id_candidates(frame: pd.DataFrame, time_col: str) -> list[str]:
    """The text or integer columns that tell a panel's series apart: with the time column, they
    name every row once."""
    import pandas as pd

    per_stamp = int(frame[time_col].value_counts().max())  # at most one row per series
    found = []
    for c in frame.columns:
        values = frame[c]
        if c == time_col or not (
            pd.api.types.is_object_dtype(values.dtype)
            or pd.api.types.is_string_dtype(values)
            or isinstance(values.dtype, pd.CategoricalDtype)
            or (
                pd.api.types.is_integer_dtype(values.dtype)
                and not pd.api.types.is_bool_dtype(values.dtype)
            )
        ):
            continue
        # An id has as many values as the busiest stamp has rows, about; a value column more.
        if 1 < values.nunique() <= per_stamp and not frame.duplicated([c, time_col]).any():
            found.append(str(c))
    return found


def _one_series(
    frame: pd.DataFrame, data: Path, time_col: str | None, copy_dir: Path, notes: list[str]
) -> tuple[Path, str]:
    """The one-series copy of `data` in `copy_dir` and the name of its id column (said in
    `notes`); an error when the time column says the table holds several series."""
    if time_col is not None and time_col in frame.columns:
        stamps = frame[time_col].dropna()  # blanks: the time column's own error, later
        repeated = int(stamps.duplicated().sum())
        # Several series repeat their timestamps throughout; a stray repeat (a clock set back
        # an hour) is left to the pipeline's "two rows at …" error.
        if repeated > SEVERAL_SERIES_SHARE * len(stamps):
            ids = id_candidates(frame, time_col)
            raise TableArgsError(
                f"{repeated} rows repeat a value of the time column '{time_col}': the table holds "
                "several series; name the column that tells them apart with --id-col"
                + (f" (columns that do: {', '.join(ids)})" if ids else "")
            )
    name = ONE_SERIES_ID
    while name in frame.columns:
        name = f"_{name}"
    copy_dir.mkdir(parents=True, exist_ok=True)
    copy = copy_dir / f"{data.name.split('.')[0]}.{ONE_SERIES_ID}.parquet"
    frame.insert(0, name, ONE_SERIES_ID)
    frame.to_parquet(copy, index=False)
    notes.append(
        f"no --id-col: the whole file is one series ({len(frame):,} rows); the run reads a copy "
        f"with an id column '{name}' added, {copy}"
    )
    return copy, name
