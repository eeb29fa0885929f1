"""Own tables, the id and time columns (trainer side): checked, rows sorted by (entity, time),
timestamps parsed, and the time spacing inferred: regular (every gap the same number of seconds)
with a pandas frequency alias, or irregular with the range of its gaps; irregular date-times
that follow a calendar frequency (month starts or ends, business days, quarters: what
`pd.infer_freq` finds, the same in every entity) keep that alias in `freq` too, so forecasters
can advance their stamps with the pandas offset and infer the season from it."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from rnngan.core.tables.spec import TableError, TimeSpec


def prepare_frame(
    frame: pd.DataFrame, id_column: str, time_column: str | None
) -> tuple[pd.DataFrame, TimeSpec | None]:
    """Check the id and time columns, sort rows by (entity, time), parse the time column."""
    for col in [id_column] + ([time_column] if time_column else []):
        if col not in frame.columns:
            raise TableError(f"column '{col}' is not in the table; columns: {list(frame.columns)}")
    if frame[id_column].isna().any():
        raise TableError(f"the id column '{id_column}' has empty values")
    frame = frame.copy()
    if time_column is None:
        frame = frame.reset_index(drop=True)
        return frame, None
    raw = frame[time_column]
    if raw.isna().any():
        raise TableError(f"the time column '{time_column}' has empty values")
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        kind: Literal["datetime", "numeric"] = "numeric"
        stamps = raw.to_numpy(dtype=np.float64)
    else:
        kind = "datetime"
        try:
            parsed = pd.to_datetime(raw, utc=True, format="mixed")
        except (ValueError, TypeError) as exc:
            raise TableError(f"the time column '{time_column}' is not date-times: {exc}") from None
        stamps = parsed.dt.tz_localize(None).astype("int64").to_numpy() / 1e9
    frame["__t"] = stamps
    frame = frame.sort_values([id_column, "__t"], kind="stable").reset_index(drop=True)
    if frame.duplicated([id_column, "__t"]).any():
        dup = frame[frame.duplicated([id_column, "__t"])].iloc[0]
        raise TableError(
            f"entity {dup[id_column]!r} has two rows at {time_column}={dup[time_column]!r}"
        )
    t = frame["__t"].to_numpy()
    same = frame[id_column].to_numpy()[1:] == frame[id_column].to_numpy()[:-1]
    gaps = (t[1:] - t[:-1])[same]
    starts = frame.groupby(id_column, sort=False)["__t"].first().to_numpy()
    integer = kind == "numeric" and bool(np.all(np.floor(t) == t))
    if gaps.size == 0:
        step, regular = 1.0, True
    else:
        step = float(np.median(gaps))
        regular = bool(np.allclose(gaps, step, rtol=1e-9, atol=1e-9))
    spec = TimeSpec(
        column=time_column,
        kind=kind,
        integer=integer,
        regular=regular,
        step=step,
        freq=_freq(frame, id_column, step, regular) if kind == "datetime" else None,
        log_gap_low=float(np.log(gaps.min())) if not regular else None,
        log_gap_high=float(np.log(gaps.max())) if not regular else None,
        start_low=float(starts.min()),
        start_high=float(starts.max()),
    )
    return frame, spec


def _freq(frame: pd.DataFrame, id_column: str, step: float, regular: bool) -> str | None:
    """A fixed spacing's alias ('h', '5min', 'D', '7D'), else the calendar frequency that
    `pd.infer_freq` finds in every entity of at least 3 rows ('MS', 'ME', 'B', 'QS-JAN'), else
    None."""
    if regular:
        return _freq_alias(step)
    found: set[str | None] = set()
    for _, stamps in frame.groupby(id_column, sort=False)["__t"]:
        if len(stamps) < 3:
            continue
        index = pd.DatetimeIndex(np.rint(stamps.to_numpy()).astype("int64").astype("datetime64[s]"))
        found.add(pd.infer_freq(index))
        if len(found) > 1 or None in found:
            return None
    return found.pop() if found else None


def _freq_alias(seconds: float) -> str | None:
    for unit, size in (("D", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}" if seconds != size else unit
    return None
