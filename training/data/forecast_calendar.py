"""A forecast table's calendar (training/data/table_forecast.py, and the CLI's choice of horizon
and context, rnngan/cli/table_args.py, which must agree with it): the season from the time
column, rows missing from an even spacing inserted as missing values, and a timetable (stamps
on business hours or a market's session, nights and weekends absent) taking one day of its rows
for its season."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from rnngan.core.calendar import season_for_freq
from rnngan.core.tables.spec import TimeSpec

DAY = 86400.0
MOST_INSERTED = 0.2  # rows missing from an even spacing inserted up to this share of the table
MOST_INSERTED_ENTITY = 0.5  # ... and of any one entity's rows
ON_STEP = 1e-3  # a stamp off its step by less than this share of a step is on it (clock jitter)
TIMETABLE_DAYS = 0.9  # a timetable: this share of its full days hold the same rows


def infer_season(
    step_seconds: float | None,
    kind: str | None,
    regular: bool,
    freq: str | None = None,
    day_rows: int = 0,
) -> int:
    """The seasonal period from the time column: from its pandas frequency when it has one
    (rnngan/core/calendar.py `season_for_freq`: 24 hourly, one day of steps for any sub-daily
    spacing that divides a day, e.g. 288 at 5 min, 7 daily, 5 business-daily, 52 weekly,
    12 monthly, 4 quarterly), else from the spacing: a timetable's rows a day (`day_rows`,
    `timetable_rows`), 12 for 28-31 days; 1 (none) otherwise, or without a datetime column."""
    if kind != "datetime" or not step_seconds:
        return 1
    if freq:
        return season_for_freq(freq)
    if day_rows > 1:
        return day_rows
    if regular and step_seconds < DAY and DAY % step_seconds == 0:
        return int(DAY // step_seconds)
    if regular and step_seconds == DAY:
        return 7
    if regular and step_seconds == 7 * DAY:
        return 52
    if 28 * DAY <= step_seconds <= 31 * DAY:
        return 12
    return 1


def fill_missing_rows(
    frame: pd.DataFrame, id_column: str, spec: TimeSpec | None, blank: tuple[str, ...]
) -> tuple[pd.DataFrame, TimeSpec | None, list[tuple[str, int]]]:
    """Rows absent from an even spacing inserted. When the datetime stamps (of a frame that
    `prepare_frame` sorted, with its `__t` seconds) are irregular only because rows are
    missing (every stamp a whole number of the median step after its entity's first, within
    `ON_STEP` of a step; at most `MOST_INSERTED` of the table's rows and `MOST_INSERTED_ENTITY`
    of any entity's missing), each entity gets a row at every step from its first stamp to
    its last. In an inserted row the `blank` columns (target, future columns) and the time
    column are empty (the target is then filled, and never scored, like any missing value),
    the other columns repeat the row before (a static attribute stays one value), keeping
    their type; `__t` is on the step. The spec becomes regular, with that step's frequency.
    Returns (frame, spec, [(id, rows inserted)]), the frame and spec unchanged otherwise."""
    if spec is None or spec.kind != "datetime" or spec.regular or spec.freq or len(frame) < 2:
        return frame, spec, []
    step = float(np.round(spec.step)) if spec.step >= 1 else spec.step  # a median of jitter
    t = frame["__t"].to_numpy(dtype=np.float64)
    ids = frame[id_column].to_numpy()
    begins = np.r_[True, ids[1:] != ids[:-1]]
    entity = np.cumsum(begins) - 1
    first = t[begins][entity]
    offset = (t - first) / step
    k = np.rint(offset).astype(np.int64)
    if not np.allclose(offset, k, rtol=0, atol=ON_STEP) or (np.diff(k)[~begins[1:]] < 1).any():
        return frame, spec, []  # not on one spacing, or two rows on one step
    lengths = k[np.r_[begins[1:], True]] + 1
    sizes = np.bincount(entity)
    inserted = lengths - sizes
    if (
        inserted.sum() > MOST_INSERTED * lengths.sum()
        or (inserted > MOST_INSERTED_ENTITY * lengths).any()
    ):
        return frame, spec, []
    base = np.cumsum(lengths) - lengths
    at = base[entity] + k
    full = frame.set_axis(at).reindex(np.arange(lengths.sum()))
    real = np.zeros(len(full), dtype=bool)
    real[at] = True
    grid = np.repeat(t[begins], lengths) + step * (np.arange(len(full)) - np.repeat(base, lengths))
    full["__t"] = np.where(real, full["__t"].to_numpy(dtype=np.float64), grid)
    starts = np.flatnonzero(begins)
    full[id_column] = frame[id_column].iloc[starts].repeat(lengths).reset_index(drop=True)
    kept = [c for c in frame.columns if c not in (id_column, "__t", spec.column, *blank)]
    if kept:
        groups = np.repeat(np.arange(len(lengths)), lengths)
        full[kept] = full.groupby(groups, sort=False)[kept].ffill()
        for column in kept:  # an integer or boolean column made float or object by the gaps
            if full[column].dtype != frame[column].dtype and not full[column].isna().any():
                full[column] = full[column].astype(frame[column].dtype)
    alias = to_offset(pd.Timedelta(seconds=step)).freqstr
    spec = spec.model_copy(
        update={"regular": True, "freq": alias, "log_gap_low": None, "log_gap_high": None}
    )
    keys = frame[id_column].iloc[starts].astype(str).tolist()
    return full, spec, [(key, int(n)) for key, n in zip(keys, inserted, strict=True) if n]


def timetable_rows(frame: pd.DataFrame, id_column: str, spec: TimeSpec | None) -> int:
    """n when the stamps are a timetable: sub-daily, irregular only between days (nights,
    weekends: business hours, a market's session), each entity's full days holding the same
    n > 1 rows at the same n times of day (`TIMETABLE_DAYS` of them exactly n, none more; an
    entity's first and last day may be partial). Days and times of day are the stamps' own
    wall clock (written with a UTC offset, the time before it), so a timetable kept in local
    time across a daylight-saving change, or entities in different zones, are found; a
    session across midnight is not. 0 otherwise."""
    if spec is None or spec.kind != "datetime" or spec.regular or spec.freq or spec.step >= DAY:
        return 0
    clock = _wall_clock(frame[spec.column])
    if clock is None:
        return 0
    entity = pd.factorize(frame[id_column])[0]
    counts = pd.Series(clock).groupby([entity, np.floor(clock / DAY)], sort=False).size()
    order = counts.groupby(level=0, sort=False)
    full = counts[(order.cumcount() > 0) & (order.cumcount(ascending=False) > 0)]
    if len(full) < 3:
        return 0
    n = int(full.mode().iloc[0])
    times = pd.Series(np.rint(clock % DAY)).groupby(entity).nunique()
    if n < 2 or full.max() > n or (full == n).mean() < TIMETABLE_DAYS or times.max() > n:
        return 0
    # every entity with a full day keeps its n times of day
    if (times.loc[full.index.get_level_values(0).unique()] != n).any():
        return 0
    return n


def _wall_clock(raw: pd.Series) -> np.ndarray | None:
    """The stamps' wall-clock time in seconds (a UTC offset or zone dropped, not applied),
    None when they do not parse."""
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        stamps = raw.dt.tz_localize(None)
    elif pd.api.types.is_datetime64_any_dtype(raw.dtype):
        stamps = raw
    else:
        text = raw.astype(str).str.strip().str.replace(r"(Z|[+-]\d{2}:?\d{2})$", "", regex=True)
        try:
            stamps = pd.to_datetime(text, format="ISO8601")
        except (ValueError, TypeError):
            try:
                stamps = pd.to_datetime(text, format="mixed")
            except (ValueError, TypeError):
                return None
    return stamps.astype("datetime64[ns]").astype("int64").to_numpy() / 1e9


def table_season(frame: pd.DataFrame, id_column: str, spec: TimeSpec | None) -> tuple[int, str]:
    """The season `infer_season` finds for a prepared table (`prepare_frame`, then
    `fill_missing_rows`), and how it was found."""
    if spec is None:
        return 1, "no time column"
    day_rows = timetable_rows(frame, id_column, spec)
    season = infer_season(spec.step, spec.kind, spec.regular, spec.freq, day_rows)
    if spec.freq:
        return season, f"the time column's frequency, {spec.freq}"
    if day_rows:
        return season, f"the time column's timetable: every day holds the same {day_rows} rows"
    return season, "the time column's spacing"
