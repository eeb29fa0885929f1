"""What `rnngan train --data` and `rnngan inspect` infer from the user's table before the run
config is built, each said on the terminal:

- the time column, when `--time-col` is not given and exactly one column holds date-times
  (a datetime dtype, or text that parses as dates: `2024-01-31`, `01/31/2024 10:00` …);
- the forecast target, when `--target` is not given and exactly one numeric column is left
  besides the id, time, known-future and static columns;
- one series, when `--id-col` is not given: the file is taken as a single entity. The training
  pipeline reads an id column, so the table is copied into the run directory with a constant
  one (`series`) added, and that copy is what the run reads and the manifest names. A table
  whose time column repeats a timestamp holds several series: that is an error asking for
  `--id-col`, not one series of interleaved rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

ONE_SERIES_ID = "series"
# Text that looks like a date or a time: digits, a separator, digits (2024-01-31, 31/01/2024,
# 10:00); plain numbers in text ("12") are not taken for dates.
_DATE_LIKE = re.compile(r"\d{1,4}[-/.:]\d{1,2}")
_SAMPLE = 200  # values of a text column tried as dates


class TableArgsError(ValueError):
    """The table does not say what the command line left out."""


@dataclass
class TableArgs:
    data: Path
    id_col: str
    time_col: str | None
    target: str | None
    notes: list[str] = field(default_factory=list)


def _looks_like_time(values: pd.Series) -> bool:
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return True
    if not (pd.api.types.is_object_dtype(values.dtype) or pd.api.types.is_string_dtype(values)):
        return False
    sample = values.dropna().astype(str).head(_SAMPLE)
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
) -> TableArgs:
    """Fill in what the command line left out from the table itself. `copy_dir`: where a
    one-series table's copy goes (without `--id-col`); required then."""
    needs_target = task == "forecast" and not target
    if id_col and time_col and not needs_target:
        return TableArgs(data, id_col, time_col, target)
    from training.data.tables import read_user_table

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
    if needs_target:
        skip = {id_col, time_col} | _split(future_cols) | _split(static_cols)
        numeric = target_candidates(frame, {c for c in skip if c})
        if len(numeric) != 1:
            which = (
                f"one of: {', '.join(numeric)}" if numeric else "the table has no numeric column"
            )
            raise TableArgsError(f"forecasting needs --target, the column to forecast ({which})")
        target = numeric[0]
        notes.append(f"target: {target} (the only numeric column; --target to choose another)")
    if id_col:
        return TableArgs(data, id_col, time_col, target, notes)
    return _one_series(frame, data, time_col, target, notes, copy_dir)


def _one_series(
    frame: pd.DataFrame,
    data: Path,
    time_col: str | None,
    target: str | None,
    notes: list[str],
    copy_dir: Path | None,
) -> TableArgs:
    if time_col is not None and time_col in frame.columns:
        repeated = int(frame[time_col].duplicated().sum())
        if repeated:
            raise TableArgsError(
                f"{repeated} rows repeat a value of the time column '{time_col}': the table holds "
                "several series; name the column that tells them apart with --id-col"
            )
    name = ONE_SERIES_ID
    while name in frame.columns:
        name = f"_{name}"
    assert copy_dir is not None, "a one-series table needs a directory for its copy"
    copy_dir.mkdir(parents=True, exist_ok=True)
    copy = copy_dir / f"{data.name.split('.')[0]}.{ONE_SERIES_ID}.parquet"
    frame.insert(0, name, ONE_SERIES_ID)
    frame.to_parquet(copy, index=False)
    notes.append(
        f"no --id-col: the whole file is one series ({len(frame):,} rows); the run reads a copy "
        f"with an id column '{name}' added, {copy}"
    )
    return TableArgs(copy, name, time_col, target, notes)
