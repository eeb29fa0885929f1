"""Calendar features and frequencies, one implementation for the trainer and the service.

- `calendar_values`: sin/cos encodings of the hour of day, day of week, month of year or day of
  year of epoch seconds (UTC), in numpy only; the forecaster's `covariates` graph input carries
  them beside the user's known-future columns (docs/forecast.md, Covariates).
- `auto_calendar`: which of them fit a pandas frequency (hourly: hour and weekday; daily and
  business-daily: weekday and yearday; weekly: yearday; monthly and quarterly: month).
- `season_for_freq`: the seasonal period of a pandas frequency (24 hourly, one day of steps for
  any spacing dividing a day, 7 daily, 5 business-daily, 52 weekly, 12 monthly, 4 quarterly,
  1 otherwise).
- `parse_stamps`, `next_stamps`: ISO-8601 strings to epoch seconds as training parses a time
  column, and the stamps after a given one by a pandas offset (month ends stay month ends,
  business days skip weekends).

pandas is imported only inside the functions that need it, so the manifest and the service's
start-up stay pandas-free.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

DAY = 86400.0
# Each feature's period, in its own units (hours, days of the week, months, days of the year).
CALENDAR_PERIODS: dict[str, float] = {
    "hour": 24.0,
    "weekday": 7.0,
    "month": 12.0,
    "yearday": 365.25,
}


class CalendarError(ValueError):
    """A frequency or timestamp the calendar code cannot use (a message a user can act on)."""


def calendar_columns(names: Sequence[str]) -> list[str]:
    """The covariate columns of calendar features `names`: `<name>_sin`, `<name>_cos` each."""
    check_calendar(names)
    return [f"{n}_{f}" for n in names for f in ("sin", "cos")]


def check_calendar(names: Sequence[str]) -> None:
    unknown = [n for n in names if n not in CALENDAR_PERIODS]
    if unknown:
        raise CalendarError(
            f"unknown calendar feature(s) {unknown}; known: {', '.join(CALENDAR_PERIODS)} "
            "(or 'auto': from the time column's frequency)"
        )


def calendar_values(seconds: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """(T, 2K) float32 sin/cos of each feature at epoch seconds (T,) (UTC, as the trainer parses
    a time column): hour of day (with minutes), day of week (Monday 0), month of year (January
    0), day of year (1 January 0)."""
    check_calendar(names)
    t = np.asarray(seconds, dtype=np.float64)
    days = np.floor(t / DAY)
    columns = []
    for name in names:
        if name == "hour":
            x = (t - days * DAY) / 3600.0
        elif name == "weekday":
            x = np.mod(days + 3.0, 7.0)  # 1970-01-01 was a Thursday
        else:
            stamp = days.astype("int64").astype("datetime64[D]")
            if name == "month":
                x = np.mod(stamp.astype("datetime64[M]").astype("int64"), 12).astype(np.float64)
            else:
                x = (stamp - stamp.astype("datetime64[Y]")).astype("int64").astype(np.float64)
        angle = 2.0 * np.pi * x / CALENDAR_PERIODS[name]
        columns += [np.sin(angle), np.cos(angle)]
    if not columns:
        return np.zeros((len(t), 0), dtype=np.float32)
    return np.stack(columns, axis=1).astype(np.float32)


def _offset(freq: str) -> Any:
    from pandas.tseries.frequencies import to_offset

    try:
        return to_offset(freq)
    except (ValueError, TypeError):
        raise CalendarError(f"'{freq}' is not a pandas frequency alias") from None


def _kind(freq: str) -> tuple[str, int, float]:
    """(family, multiple, seconds for fixed spacings) of a pandas frequency alias."""
    offset = _offset(freq)
    nanos = getattr(offset, "nanos", None) if _is_tick(offset) else None
    if nanos is not None:
        return "fixed", int(offset.n), float(nanos) / 1e9
    code = offset.rule_code.split("-")[0]
    n = int(offset.n)
    if code in ("B", "C"):
        return "business_day", n, 0.0
    if code == "W":
        return "week", n, 0.0
    if code in ("SMS", "SME"):
        return "semi_month", n, 0.0
    if code in ("MS", "ME", "BMS", "BME", "CBMS", "CBME"):
        return "month", n, 0.0
    if code in ("QS", "QE", "BQS", "BQE"):
        return "quarter", n, 0.0
    if code in ("YS", "YE", "BYS", "BYE"):
        return "year", n, 0.0
    return "other", n, 0.0


def _is_tick(offset: object) -> bool:
    from pandas.tseries.offsets import Tick

    return isinstance(offset, Tick)


def season_for_freq(freq: str | None) -> int:
    """The seasonal period of a pandas frequency alias (module docstring); 1 for None."""
    if not freq:
        return 1
    kind, n, seconds = _kind(freq)
    if kind == "fixed":
        if seconds < DAY and DAY % seconds == 0:
            return int(DAY // seconds)
        if seconds == DAY:
            return 7
        if seconds == 7 * DAY:
            return 52
        return 1
    per_year = {"business_day": 0, "week": 52, "semi_month": 24, "month": 12, "quarter": 4}
    if kind == "business_day":
        return 5 if n == 1 else 1
    count = per_year.get(kind, 0)
    return count // n if count and count % n == 0 and count // n > 1 else 1


def auto_calendar(freq: str | None) -> tuple[str, ...]:
    """The calendar features that vary at this frequency (module docstring); () when none."""
    if not freq:
        return ()
    kind, _, seconds = _kind(freq)
    if kind == "fixed":
        if seconds < DAY:
            return ("hour", "weekday")
        if seconds == DAY:
            return ("weekday", "yearday")
        return ("yearday",) if seconds < 366 * DAY else ()
    return {
        "business_day": ("weekday", "yearday"),
        "week": ("yearday",),
        "semi_month": ("yearday",),
        "month": ("month",),
        "quarter": ("month",),
    }.get(kind, ())


def parse_stamps(stamps: Sequence[str]) -> np.ndarray:
    """ISO-8601 strings -> epoch seconds (float64), as the trainer parses a time column: zoned
    stamps converted to UTC, naive ones read as UTC."""
    import pandas as pd

    try:
        parsed = pd.to_datetime(pd.Series(list(stamps), dtype=object), utc=True, format="mixed")
    except (ValueError, TypeError) as exc:
        raise CalendarError(f"timestamps are not ISO-8601 date-times: {exc}") from None
    if parsed.isna().any():
        raise CalendarError("timestamps have empty values")
    return parsed.dt.tz_localize(None).astype("int64").to_numpy() / 1e9


def next_stamps(last: str, freq: str, steps: int) -> list[str]:
    """The `steps` ISO-8601 stamps after `last`, one pandas offset apart (its time zone kept)."""
    import pandas as pd

    offset = _offset(freq)
    try:
        current = pd.Timestamp(last)
    except (ValueError, TypeError) as exc:
        raise CalendarError(f"timestamp '{last[:40]}' is not ISO-8601: {exc}") from None
    if steps < 1:
        return []
    # `last + offset` is on the offset (month end, business day ...), so the range starts there.
    stamps = pd.date_range(start=current + offset, periods=steps, freq=offset)
    return [t.isoformat() for t in stamps]
