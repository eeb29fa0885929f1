"""Histories with holes, mended the way training on a table mends its series
(training/data/table_forecast.py, training/data/forecast_calendar.py), so that a forecast
request holds what the model was trained on: blank target rows before a series' first value or
after its last dropped, rows missing from the model's frequency inserted, and blank values
inside a series filled by linear interpolation (target and future covariates). A log warning
says what was done to which series."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rnngan.client.errors import InputError

log = logging.getLogger("rnngan.client")


MOST_INSERTED = 0.2  # as training (training/data/forecast_calendar.py): of all rows sent
MOST_INSERTED_SERIES = 0.5  # ... and of any one series' rows
ON_STEP = 1e-3  # ... and a stamp off its step by less than this share of a step is on it (jitter)


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


@dataclass
class Holes:
    """What mending did, for the warning."""

    dropped: int = 0  # blank target rows before a first or after a last value
    inserted: int = 0  # rows missing from the frequency
    filled: dict[str, int] = field(default_factory=dict)  # blank cells interpolated, by column
    series: int = 0
    first: str = ""  # one series that was mended

    def say(self, total: int, target: str, freq: str | None) -> None:
        if not self.series:
            return
        done = []
        if self.dropped:
            done.append(
                f"{_count(self.dropped, 'blank row')} before a first or after a last {target} cut"
            )
        if self.inserted:
            done.append(
                f"{_count(self.inserted, 'row')} missing from the '{freq}' frequency inserted"
            )
        for column, n in self.filled.items():
            if n:
                done.append(f"{_count(n, f'blank {column} value')} filled by linear interpolation")
        log.warning(
            "%s in %d of %d series (e.g. %s), as training on a table does; a forecast starts "
            "after a series' last stamp with a value",
            "; ".join(done),
            self.series,
            total,
            self.first,
        )


Piece = tuple[np.ndarray, pd.Series, dict[str, np.ndarray]]


def mend(
    ids: np.ndarray,
    stamps: pd.Series,
    columns: dict[str, np.ndarray],
    target: str,
    freq: str | None,
) -> tuple[np.ndarray, pd.Series, dict[str, np.ndarray]]:
    """`ids`, `stamps` and each of `columns` (float, NaN where blank; the target among them)
    sorted by (id, stamp), mended series by series; unchanged when nothing needs it. Rows are
    inserted, as training inserts them, only for datetime stamps that all lie on `freq`'s
    steps from the series' first (within `ON_STEP` of a step: clock jitter), at most half of
    a series and a fifth of all rows."""
    begins = np.r_[True, ids[1:] != ids[:-1]]
    starts = np.flatnonzero(begins)
    ends = np.r_[starts[1:], len(ids)]
    datetimes = freq is not None and pd.api.types.is_datetime64_any_dtype(stamps)
    if datetimes:
        _check_freq(freq)
    group = np.cumsum(begins)
    blank = np.zeros(len(starts), dtype=bool)
    for values in columns.values():
        blank |= pd.Series(np.isnan(values)).groupby(group).any().to_numpy()
    todo = blank | (_gapped(stamps, begins, freq) if datetimes else False)
    if not todo.any():
        return ids, stamps, columns
    # Only the series that need it are cut out; each run of series between them stays one piece.
    pieces: list[Piece] = []
    grids: dict[int, tuple[pd.DatetimeIndex, np.ndarray]] = {}  # by piece
    fixes: list[tuple[int, int]] = []  # (piece, series)
    done = 0  # the row after the last piece
    for j in np.flatnonzero(todo):
        start, end = int(starts[j]), int(ends[j])
        if start > done:
            pieces.append(_piece(ids, stamps, columns, slice(done, start)))
        piece = _cut(*_piece(ids, stamps, columns, slice(start, end)), target)
        grid = _grid(piece[1], freq) if datetimes else None
        if grid is not None:
            grids[len(pieces)] = grid
        fixes.append((len(pieces), int(j)))
        pieces.append(piece)
        done = end
    if done < len(ids):
        pieces.append(_piece(ids, stamps, columns, slice(done, len(ids))))
    inserted = sum(len(g) - len(pieces[k][1]) for k, (g, _) in grids.items())
    if inserted > MOST_INSERTED * (len(ids) + inserted):
        grids = {}  # a frequency that is not the panel's own: nothing is made up
    holes = Holes(filled={c: 0 for c in columns})
    for k, j in fixes:
        pieces[k] = _fill(*pieces[k], grids.get(k), int(ends[j] - starts[j]), holes)
    holes.say(len(starts), target, freq)
    return (
        np.concatenate([p[0] for p in pieces]),
        pd.concat([p[1] for p in pieces], ignore_index=True),
        {c: np.concatenate([p[2][c] for p in pieces]) for c in columns},
    )


def _piece(
    ids: np.ndarray, stamps: pd.Series, columns: dict[str, np.ndarray], rows: slice
) -> Piece:
    return ids[rows], stamps.iloc[rows], {c: a[rows] for c, a in columns.items()}


def _check_freq(freq: str | None) -> None:
    from pandas.tseries.frequencies import to_offset

    try:
        to_offset(freq)
    except (TypeError, ValueError):
        raise InputError(
            f"freq={freq!r} is not a pandas frequency alias ('h', 'D', 'MS' …)"
        ) from None


def _gapped(stamps: pd.Series, begins: np.ndarray, freq: str | None) -> np.ndarray:
    """Per series: whether a step between its stamps is longer than `freq`'s (for a fixed
    frequency; a calendar one, monthly, is checked series by series in `_grid`)."""
    from pandas.tseries.frequencies import to_offset

    try:
        step = pd.Timedelta(to_offset(freq)).value
    except (TypeError, ValueError):
        return np.ones(int(begins.sum()), dtype=bool)
    gaps = np.diff(pd.DatetimeIndex(stamps).as_unit("ns").asi8)  # UTC for zoned stamps
    longer = np.r_[False, (gaps > step * (1 + ON_STEP)) & ~begins[1:]]
    return pd.Series(longer).groupby(np.cumsum(begins)).any().to_numpy()


def _cut(ids: np.ndarray, stamps: pd.Series, columns: dict[str, np.ndarray], target: str) -> Piece:
    """The series from its first to its last target value, or InputError without any."""
    seen = np.flatnonzero(~np.isnan(columns[target]))
    if not seen.size:
        raise InputError(f"series {ids[0]!r} has no {target} value")
    keep = slice(int(seen[0]), int(seen[-1]) + 1)
    return (
        ids[keep],
        stamps.iloc[keep].reset_index(drop=True),
        {c: a[keep] for c, a in columns.items()},
    )


def _grid(stamps: pd.Series, freq: str | None) -> tuple[pd.DatetimeIndex, np.ndarray] | None:
    """Every `freq` step from the first stamp to the last and where the stamps lie on it, when
    they all do (each within `ON_STEP` of a step, no two on one) and it adds rows, at most half
    of the grid (a frequency that is not the series' own, quarterly stamps on an hourly grid,
    is left alone); else None. The grid keeps the stamps given; an inserted row is a whole number
    of steps after the series' first stamp, as training places them."""
    if len(stamps) < 2:
        return None
    given = pd.DatetimeIndex(stamps)
    first = pd.date_range(given[0], periods=2, freq=freq)
    tolerance = (first[1] - first[0]) * ON_STEP
    grid = pd.date_range(given[0], given[-1] + tolerance, freq=freq)  # a last stamp a bit early
    at = grid.get_indexer(given, method="nearest", tolerance=tolerance)
    missing = len(grid) - len(stamps)
    if (
        missing <= 0
        or missing > MOST_INSERTED_SERIES * len(grid)
        or (at < 0).any()
        or (np.diff(at) < 1).any()  # two stamps on one step
    ):
        return None
    full = pd.Series(grid)
    full.iloc[at] = given  # the stamps given stay as they were
    return pd.DatetimeIndex(full), at


def _fill(
    ids: np.ndarray,
    stamps: pd.Series,
    columns: dict[str, np.ndarray],
    grid: tuple[pd.DatetimeIndex, np.ndarray] | None,
    rows: int,
    holes: Holes,
) -> Piece:
    """The cut series on its grid (when given), blank cells interpolated; counted in `holes`
    (`rows`: how many it had before the cut)."""
    inserted = 0
    if grid is not None:
        full, at = grid
        inserted = len(full) - len(stamps)
        for c, a in columns.items():
            wide = np.full(len(full), np.nan)
            wide[at] = a
            columns[c] = wide
        stamps = pd.Series(full).astype(stamps.dtype)
    filled = {c: int(np.isnan(a).sum()) - inserted for c, a in columns.items()}
    columns = {
        c: pd.Series(a).interpolate(limit_direction="both").to_numpy(dtype=np.float64)
        for c, a in columns.items()
    }
    dropped = rows - (len(stamps) - inserted)
    if dropped or inserted or any(filled.values()):
        holes.dropped += dropped
        holes.inserted += inserted
        for c, n in filled.items():
            holes.filled[c] += n
        holes.series += 1
        holes.first = holes.first or repr(ids[0].item() if hasattr(ids[0], "item") else ids[0])
    return np.repeat(ids[:1], len(stamps)), stamps, columns
