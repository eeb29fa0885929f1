"""Histories with holes, mended the way training on a table mends its series
(training/data/table_forecast.py, training/data/forecast_calendar.py), so that a forecast
request holds what the model was trained on: blank target rows before a series' first value or
after its last dropped, rows missing from the model's frequency inserted, and blank values
inside a series filled by linear interpolation (target and future covariates). A log warning
says what was done to which series."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rnngan.client.errors import InputError

log = logging.getLogger("rnngan.client")


@dataclass
class Holes:
    """What mending did, for the warning."""

    dropped: int = 0  # blank rows before a first or after a last value
    inserted: int = 0  # rows missing from the frequency
    filled: int = 0  # blank target values interpolated
    series: int = 0
    first: str = ""  # one series that was mended

    def say(self, total: int, target: str, freq: str | None) -> None:
        if not self.series:
            return
        done = []
        if self.dropped:
            done.append(f"{self.dropped} blank rows before a first or after a last {target} cut")
        if self.inserted:
            done.append(f"{self.inserted} rows missing from the '{freq}' frequency inserted")
        if self.filled:
            done.append(f"{self.filled} blank {target} values filled by linear interpolation")
        log.warning(
            "%s in %d of %d series (e.g. %s), as training on a table does; a forecast starts "
            "after a series' last stamp with a value",
            "; ".join(done),
            self.series,
            total,
            self.first,
        )


def mend(
    ids: np.ndarray,
    stamps: pd.Series,
    columns: dict[str, np.ndarray],
    target: str,
    freq: str | None,
) -> tuple[np.ndarray, pd.Series, dict[str, np.ndarray]]:
    """`ids`, `stamps` and each of `columns` (float, NaN where blank; the target among them)
    sorted by (id, stamp), mended series by series; unchanged when nothing needs it. Rows are
    inserted only for datetime stamps that all lie on `freq`'s steps from the series' first,
    and at most as many as it has."""
    values = columns[target]
    begins = np.r_[True, ids[1:] != ids[:-1]]
    starts = np.flatnonzero(begins)
    ends = np.r_[starts[1:], len(ids)]
    datetimes = freq is not None and pd.api.types.is_datetime64_any_dtype(stamps)
    blank = pd.Series(np.isnan(values)).groupby(np.cumsum(begins)).any().to_numpy()
    todo = blank | (_gapped(stamps, begins, freq) if datetimes else False)
    if not todo.any():
        return ids, stamps, columns
    holes = Holes()
    pieces: list[tuple[np.ndarray, pd.Series, dict[str, np.ndarray]]] = []
    for j, (start, end) in enumerate(zip(starts, ends, strict=True)):
        part = slice(int(start), int(end))
        piece = (ids[part], stamps.iloc[part], {c: a[part] for c, a in columns.items()})
        if todo[j]:
            piece = _mend_one(*piece, target, freq if datetimes else None, holes)
        pieces.append(piece)
    holes.say(len(starts), target, freq)
    return (
        np.concatenate([p[0] for p in pieces]),
        pd.concat([p[1] for p in pieces], ignore_index=True),
        {c: np.concatenate([p[2][c] for p in pieces]) for c in columns},
    )


def _gapped(stamps: pd.Series, begins: np.ndarray, freq: str | None) -> np.ndarray:
    """Per series: whether a step between its stamps is longer than `freq`'s (for a fixed
    frequency; a calendar one, monthly, is checked series by series in `_mend_one`)."""
    from pandas.tseries.frequencies import to_offset

    try:
        step = pd.Timedelta(to_offset(freq)).value
    except (TypeError, ValueError):
        return np.ones(int(begins.sum()), dtype=bool)
    gaps = np.diff(pd.DatetimeIndex(stamps).asi8)  # nanoseconds (UTC for zoned stamps)
    longer = np.r_[False, (gaps > step) & ~begins[1:]]
    return pd.Series(longer).groupby(np.cumsum(begins)).any().to_numpy()


def _mend_one(
    ids: np.ndarray,
    stamps: pd.Series,
    columns: dict[str, np.ndarray],
    target: str,
    freq: str | None,
    holes: Holes,
) -> tuple[np.ndarray, pd.Series, dict[str, np.ndarray]]:
    seen = np.flatnonzero(~np.isnan(columns[target]))
    if not seen.size:
        raise InputError(f"series {ids[0]!r} has no {target} value")
    rows = len(stamps)
    keep = slice(int(seen[0]), int(seen[-1]) + 1)
    stamps = stamps.iloc[keep].reset_index(drop=True)
    columns = {c: a[keep] for c, a in columns.items()}
    dropped = rows - len(stamps)
    inserted = 0
    if freq is not None and len(stamps) > 1:
        grid = pd.date_range(stamps.iloc[0], stamps.iloc[-1], freq=freq)
        at = grid.get_indexer(pd.DatetimeIndex(stamps))
        # as training: a series more than half made up of inserted rows is left as it is
        # (a frequency that is not the series' own: quarterly stamps lie on an hourly grid)
        if len(stamps) < len(grid) <= 2 * len(stamps) and (at >= 0).all():
            inserted = len(grid) - len(stamps)
            for c, a in columns.items():
                wide = np.full(len(grid), np.nan)
                wide[at] = a
                columns[c] = wide
            stamps = pd.Series(grid).astype(stamps.dtype)
    filled = int(np.isnan(columns[target]).sum())
    columns = {
        c: pd.Series(a).interpolate(limit_direction="both").to_numpy(dtype=np.float64)
        for c, a in columns.items()
    }
    if dropped or inserted or filled:
        holes.dropped += dropped
        holes.inserted += inserted
        holes.filled += filled - inserted  # the inserted rows are counted once, as inserted
        holes.series += 1
        holes.first = holes.first or repr(ids[0])
    return np.repeat(ids[:1], len(stamps)), stamps, columns
