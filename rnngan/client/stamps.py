"""Timestamps spelled as periods, the way R's tsibble writes its yearquarter, yearweek and
yearmonth columns to CSV ("1998 Q1", "2001 W05", "1939 Jan"): `rnngan train --data` reads them
as dates (rnngan/cli/table_args.py) and so does the client (`rnngan forecast`,
`Client.forecast`), so histories can be sent with their time column in the spelling the
training table had; and a series kept on a timetable (business hours) steps on to its next
times of day (`timetable_next`), not into the night."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

# "1998 Q1" / "1998Q1" / "1998-Q1", "2001 W05" / "2001-W05", "1939 Jan" / "Jan 1939"
_QUARTER = re.compile(r"^\s*(\d{4})\s*-?\s*[Qq]([1-4])\s*$")
_WEEK = re.compile(r"^\s*(\d{4})\s*-?\s*W(\d{1,2})\s*$")
_MONTH = re.compile(r"^\s*(\d{4}\s+[A-Za-z]{3,9}|[A-Za-z]{3,9}\s+\d{4})\s*$")


def spelled_periods(values: pd.Series, least: int = 2) -> tuple[pd.Series, str] | None:
    """The dates a text column spells as periods (each read as its first day: a quarter's first
    month, an ISO week's Monday, a month's 1st) and what it spelled, or None when it is not
    such a column: every value one kind of period, at least `least` distinct ones."""
    if not (pd.api.types.is_object_dtype(values.dtype) or pd.api.types.is_string_dtype(values)):
        return None
    if values.empty or not any(p.match(str(values.iloc[0])) for p in (_QUARTER, _WEEK, _MONTH)):
        return None  # ISO dates, the common case, are told apart on the first value
    text = values.astype(str)
    if text.nunique() < least:
        return None
    if text.str.fullmatch(_QUARTER).all():
        parts = text.str.extract(_QUARTER).astype(int)
        months = (parts[1] - 1) * 3 + 1
        dates = pd.to_datetime(dict(year=parts[0], month=months, day=1))
        return dates, "quarters (1998 Q1), each read as its first day"
    if text.str.fullmatch(_WEEK).all():
        parts = text.str.extract(_WEEK)
        iso = parts[0] + "-W" + parts[1].str.zfill(2) + "-1"
        dates = pd.to_datetime(iso, format="%G-W%V-%u", errors="coerce")
        if dates.isna().any():
            return None
        # "2021 W53" (2021 has 52 ISO weeks) would become 2022 W01's Monday: not a week.
        week = dates.dt.isocalendar()
        if (week["year"] != parts[0].astype(int)).any() or (
            week["week"] != parts[1].astype(int)
        ).any():
            return None
        return dates, "ISO weeks (2001 W05), each read as its Monday"
    if text.str.fullmatch(_MONTH).all():
        dates = pd.to_datetime(text, format="mixed", errors="coerce")
        if dates.notna().all() and (dates.dt.day == 1).all():
            return dates, "months by name (1939 Jan), each read as its first day"
    return None


def yyyymmdd_dates(values: pd.Series) -> pd.Series | None:
    """The dates of integers written as yyyymmdd (20240131: 2024-01-31), as `rnngan train
    --data` reads them into a model with a daily frequency; None unless every value is a
    calendar day of the years 1000-2999."""
    if pd.api.types.is_bool_dtype(values.dtype) or not pd.api.types.is_integer_dtype(values):
        return None
    if values.empty or not 10000101 <= values.min() <= values.max() <= 29991231:
        return None
    dates = pd.to_datetime(values.astype(str), format="%Y%m%d", errors="coerce")
    return None if dates.isna().any() else dates


def year_dates(values: pd.Series) -> pd.Series | None:
    """The 1 January of integers that are years (1000-2999), as `rnngan train --data` reads a
    time column of years into a model with a yearly frequency; None unless every value is such
    a year."""
    if pd.api.types.is_bool_dtype(values.dtype) or not pd.api.types.is_integer_dtype(values):
        return None
    if values.empty or not 1000 <= values.min() <= values.max() <= 2999:
        return None
    return pd.to_datetime(values.astype(str), format="%Y")


def is_yearly(freq: str | None) -> bool:
    """Whether a pandas frequency alias is one step a year (YE, YS, BYE, BYS and their months)."""
    from pandas.tseries.frequencies import to_offset
    from pandas.tseries.offsets import BYearBegin, BYearEnd, YearBegin, YearEnd

    if not freq:
        return False
    try:
        offset = to_offset(freq)
    except ValueError:
        return False
    return isinstance(offset, YearBegin | YearEnd | BYearBegin | BYearEnd) and offset.n == 1


TIMETABLE_DAYS = 0.9  # as training (training/data/forecast_calendar.py): days holding the n rows


def timetable_next(stamps: pd.Series, h: int) -> pd.Series | None:
    """The h stamps after the last of a series kept on a timetable (business hours, a
    market's session): below a day apart, not evenly spaced, its full days (the first and last
    may be partial) each holding the same n > 1 times of day, which leave a break longer than
    twice their spacing (a night: a 24-hour series missing a day is no timetable). They are
    the next of those times on the weekdays it keeps (more than half of that weekday's days
    in the history hold the n rows: a holiday or one extra Saturday does not decide), nights
    and weekends stepped over as the model that training found the timetable for steps over
    them. None when the stamps are no timetable or not datetimes."""
    if not pd.api.types.is_datetime64_any_dtype(stamps) or len(stamps) < 3 or h < 1:
        return None
    index = pd.DatetimeIndex(stamps).as_unit("ns")
    gaps = np.diff(index.asi8)
    if (gaps == gaps[0]).all() or gaps.min() <= 0 or gaps.min() >= 86_400 * 10**9:
        return None  # evenly spaced (a frequency steps it), unsorted, or a day apart or more
    zone = index.tz
    clock = index.tz_localize(None) if zone is not None else index  # its own wall clock
    days = clock.normalize()
    counts = pd.Series(1, index=days).groupby(level=0).size()
    full = counts.iloc[1:-1]
    if len(full) < 3:
        return None
    n = int(full.mode().iloc[0])
    times = np.unique((clock - days).to_numpy())
    if n < 2 or len(times) != n or full.max() > n or (full == n).mean() < TIMETABLE_DAYS:
        return None
    within = np.diff(times)
    overnight = times[0] + np.timedelta64(1, "D") - times[-1]
    if overnight <= 2 * np.median(within):
        return None  # no break in the day: not a timetable but a series with rows missing
    span = pd.date_range(full.index[0], full.index[-1], freq="D")
    kept = pd.Series(span.isin(full[full == n].index), index=span.dayofweek)
    weekdays = set(kept.groupby(level=0).mean().loc[lambda share: share > 0.5].index)
    if not weekdays:
        return None
    out: list[pd.Timestamp] = []
    day, last = days[-1], clock[-1]
    for _ in range(7 * (h // n + 2)):
        if day.dayofweek in weekdays:
            out.extend(t for t in day + pd.TimedeltaIndex(times) if t > last)
            if len(out) >= h:
                break
        day += pd.Timedelta(days=1)
    if len(out) < h:
        return None
    ahead = pd.DatetimeIndex(out[:h])
    if zone is not None:
        try:
            ahead = ahead.tz_localize(zone, nonexistent="shift_forward", ambiguous=False)
        except (ValueError, TypeError):
            return None
    return pd.Series(ahead)
