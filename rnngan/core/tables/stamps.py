"""Own tables, synthetic stamps on a calendar frequency.

A table whose rows follow a calendar frequency (month starts, quarter ends, business days: a
`TimeSpec` with a `freq` that is not `regular`) has gaps that vary in seconds (28 to 31 days for
months, 1 or 3 days for business days). Its generators learn each gap in seconds (the gap
channel) like any irregular table's, so gaps added up in seconds would leave the calendar
(2020-01-01, 2020-01-30 11:05:03, ...). Here the first stamp is put on the frequency and each
generated gap becomes a whole number of its periods: the gap over the frequency's longest period
(31 days for months, 3 for business days: Friday to Monday), rounded, at least one. A gap of two
months skips one, as missing months do in real data; a business day or hour missing in the
middle of a week is not told from the weekend's longer gap (the generator learned gaps in
seconds, not in periods), so synthetic business days rarely skip one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import BaseOffset

from rnngan.core.tables.spec import TableSpec

# The grid of a frequency's stamps that one call lays out: over a million would be centuries of
# business hours, far beyond any table's span.
_MOST_STAMPS = 5_000_000


def calendar_offset(spec: TableSpec) -> BaseOffset | None:
    """The pandas offset that the spec's stamps follow when it is a calendar frequency (gaps
    that vary in seconds), else None (a fixed step, a numeric or an irregular time column)."""
    t = spec.time
    if t is None or t.kind != "datetime" or t.regular or t.freq is None:
        return None
    return to_offset(t.freq)


def _stamp(seconds: float) -> pd.Timestamp:
    """Seconds -> a Timestamp of second resolution (years 1677 to 2262 bound nanoseconds only)."""
    return pd.Timestamp(int(np.rint(seconds)), unit="s")


def _seconds(stamps: pd.DatetimeIndex) -> np.ndarray:
    return np.asarray(stamps.as_unit("s").asi8, dtype=np.float64)


def grid(offset: BaseOffset, first: float, last: float) -> np.ndarray:
    """The offset's stamps (seconds) from the first at or after `first` to the first at or
    after `last`."""
    low, high = offset.rollforward(_stamp(first)), offset.rollforward(_stamp(last))
    stamps = pd.date_range(low, high, freq=offset, unit="s")
    if len(stamps) > _MOST_STAMPS:  # pragma: no cover - guarded by the spans tables have
        raise ValueError(f"{len(stamps)} stamps of frequency {offset.freqstr} in one call")
    return _seconds(stamps)


def calendar_starts(offset: BaseOffset, spec: TableSpec, uniforms: np.ndarray) -> np.ndarray:
    """First stamps drawn uniformly among the frequency's stamps over the training starts'
    span, one uniform in [0, 1) each."""
    assert spec.time is not None
    stamps = grid(offset, spec.time.start_low, spec.time.start_high)
    picks = np.minimum(np.floor(uniforms * len(stamps)).astype(np.int64), len(stamps) - 1)
    return stamps[picks]


def on_frequency(offset: BaseOffset, spec: TableSpec, start: float) -> float:
    """A requested first stamp on the frequency: itself when it is one of its stamps, else the
    next one. A frequency of days or longer keeps the training stamps' time of day (a month
    start asked for at 10:00 on the 15th is the next month's first at, say, midnight)."""
    assert spec.time is not None
    ts = _stamp(start)
    if isinstance(offset, pd.offsets.BusinessHour | pd.offsets.CustomBusinessHour):
        first = offset.rollforward(ts)
    else:
        anchor = _stamp(spec.time.start_low)
        first = offset.rollforward(ts.normalize() + (anchor - anchor.normalize()))
        if first < ts:
            first = first + offset
    return float(_seconds(pd.DatetimeIndex([first]))[0])


def snap_times(offset: BaseOffset, times: list[np.ndarray]) -> list[np.ndarray]:
    """Series stamps (seconds; each series' first already on the frequency) whose gaps were
    generated in seconds -> stamps of the frequency, each gap a whole number of its periods:
    the gap over the frequency's longest period, rounded, at least 1."""
    if not times or max(len(t) for t in times) < 2:
        return [np.asarray(t, dtype=np.float64) for t in times]
    firsts = np.array([t[0] for t in times if len(t)], dtype=np.float64)
    first = float(firsts.min())
    some = pd.date_range(_stamp(first), periods=30, freq=offset, unit="s")
    period = float(np.diff(_seconds(some)).max())
    steps = [np.maximum(np.rint(np.diff(t) / period), 1.0).astype(np.int64) for t in times]
    reach = max(
        float(t[0]) + (int(k.sum()) + 2) * period
        for t, k in zip(times, steps, strict=True)
        if len(t)
    )
    stamps = grid(offset, first, reach)
    out = []
    for t, k in zip(times, steps, strict=True):
        if not len(t):
            out.append(np.zeros(0))
            continue
        at = int(np.searchsorted(stamps, float(t[0]) - 0.5))
        out.append(stamps[at + np.concatenate([[0], np.cumsum(k)])])
    return out
