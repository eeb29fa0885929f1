"""Own tables, inference (trainer side): read a pandas frame, check the id and time columns,
infer each column's type, range and role, and build the `TableSpec`. The user may override types,
bounds and the static columns; every error names the column and says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from rnngan.core.tables.spec import (
    KINDS,
    MAX_CATEGORIES,
    NUMERIC,
    ColumnSpec,
    EntityLevel,
    Kind,
    StaticCombo,
    TableError,
    TableSpec,
)
from rnngan.core.tables.timecol import prepare_frame

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def _bool_values(series: pd.Series) -> pd.Series | None:
    """The column as booleans (NaN kept), or None when it is not boolean-like."""
    present = series.dropna()
    if present.empty:
        return None
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype("boolean")
    words = present.astype(str).str.strip().str.lower()
    uniq = set(words.unique())
    numeric = pd.api.types.is_numeric_dtype(series.dtype)
    if numeric and not uniq <= {"0", "1", "0.0", "1.0"}:
        return None
    if not numeric and not uniq <= _TRUE | _FALSE:
        return None
    if len(uniq) < 2 and numeric:
        return None  # a constant 0 or 1 is more likely a count than a flag
    mapped = series.astype(str).str.strip().str.lower().map(lambda v: v in _TRUE)
    return mapped.where(series.notna()).astype("boolean")


def infer_kind(series: pd.Series) -> Kind:
    """boolean, categorical (text), count (non-negative integers), integer, nonnegative or
    continuous, from the values present."""
    if _bool_values(series) is not None:
        return "boolean"
    if not pd.api.types.is_numeric_dtype(series.dtype):
        numbers = pd.to_numeric(series, errors="coerce")
        if numbers.notna().sum() == series.notna().sum() and series.notna().any():
            series = numbers  # numbers stored as text
        else:
            return "categorical"
    present = series.dropna().to_numpy(dtype=np.float64)
    if present.size == 0:
        return "continuous"
    integral = bool(np.all(np.isfinite(present)) and np.all(np.floor(present) == present))
    if integral:
        return "count" if present.min() >= 0 else "integer"
    return "nonnegative" if present.min() >= 0 else "continuous"


def _parse_pairs(items: Sequence[str], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise TableError(f"{what} entry {item!r} must look like column=value")
        out[name.strip()] = value.strip()
    return out


def as_numbers(series: pd.Series, kind: str, name: str) -> np.ndarray:
    if kind == "boolean":
        flags = _bool_values(series)
        if flags is None:
            raise TableError(f"column '{name}' is declared boolean but holds other values")
        return flags.astype("float64").to_numpy(na_value=np.nan)
    numbers = pd.to_numeric(series, errors="coerce")
    bad = numbers.isna() & series.notna()
    if bad.any():
        example = series[bad].iloc[0]
        raise TableError(f"column '{name}' is declared {kind} but holds {example!r}")
    values = numbers.to_numpy(dtype=np.float64)
    if np.isinf(values).any():
        raise TableError(f"column '{name}' holds infinite values")
    return values


def infer_spec(
    frame: pd.DataFrame,
    *,
    id_column: str,
    time_column: str | None = None,
    static: Sequence[str] | None = None,
    types: Sequence[str] = (),
    bounds: Sequence[str] = (),
    columns: Sequence[str] = (),
) -> tuple[TableSpec, pd.DataFrame]:
    """Infer the spec of a long table; returns it with the frame sorted by (entity, time).

    `static=None` treats every column that is constant within each entity (and not numeric
    continuous) as static; `types` ("col=kind") and `bounds` ("col=low:high") override."""
    frame, time_spec = prepare_frame(frame, id_column, time_column)
    keys = {id_column, "__t"} | ({time_column} if time_column else set())
    names = _value_columns(frame, keys, columns)
    forced, limits = _overrides(names, types, bounds)
    groups = frame.groupby(id_column, sort=False)
    kinds = {name: forced.get(name) or infer_kind(frame[name]) for name in names}
    static_set = _static_columns(frame, groups, names, kinds, static, id_column)
    specs = [
        _column_spec(name, kinds[name], frame[name], name in static_set, limits.get(name))
        for name in names
    ]
    combos = _static_combos(groups, [c for c in specs if c.static])
    specs, entity_levels = _levels(frame, groups, specs, combos)
    lengths = groups.size()
    values, counts = np.unique(lengths.to_numpy(), return_counts=True)
    spec = TableSpec(
        id_column=id_column,
        id_integer=bool(pd.api.types.is_integer_dtype(frame[id_column].dtype)),
        time=time_spec,
        columns=specs,
        static_combos=combos,
        length_values=[int(v) for v in values],
        length_counts=[int(c) for c in counts],
        entity_levels=entity_levels,
    )
    return spec, frame


LEVEL_KINDS = ("continuous", "integer", "count", "nonnegative")
# A column gets per-entity levels when its entity means differ by more than this many times
# the median within-entity std (in the transformed space): the levels are then what the
# global scaling would let the generator collapse onto.
LEVEL_BETWEEN_WITHIN = 0.5


def _levels(
    frame: pd.DataFrame, groups: Any, specs: list[ColumnSpec], combos: list[StaticCombo]
) -> tuple[list[ColumnSpec], list[EntityLevel]]:
    """Decide the level columns (dynamic numeric columns whose entities sit at different
    levels) and each entity's levels and static combination."""
    if frame[groups.keys].nunique() < 2:
        return specs, []
    numbers = {
        c.name: as_numbers(frame[c.name], c.kind, c.name)
        for c in specs
        if not c.static and c.kind in LEVEL_KINDS
    }
    sizes = groups.size().to_numpy()
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    out: list[ColumnSpec] = []
    per_column: list[list[tuple[float, float]]] = []
    for c in specs:
        if c.name not in numbers:
            out.append(c)
            continue
        values = numbers[c.name]
        levels = [c.entity_level(values[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        present = [lv for lv in levels if lv is not None]
        means = np.asarray([m for m, _ in present])
        within = float(np.median([s for _, s in present]))
        if len(present) < 2 or not means.std() > LEVEL_BETWEEN_WITHIN * within:
            out.append(c)
            continue
        fallback = (float(means.mean()), c.level_floor())
        filled = [lv if lv is not None else fallback for lv in levels]
        z = np.concatenate(
            [
                (c.transform(v[~np.isnan(v)]) - m) / s
                for (m, s), v in zip(
                    filled,
                    [values[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)],
                    strict=True,
                )
            ]
        )
        out.append(
            c.model_copy(update={"level": True, "z_low": float(z.min()), "z_high": float(z.max())})
        )
        per_column.append(filled)
    if not per_column:
        return specs, []
    static_specs = [c for c in specs if c.static]
    index = {tuple(str(v) for v in combo.values): k for k, combo in enumerate(combos)}
    first = groups[[c.name for c in static_specs]].first() if static_specs else None
    entity_levels = []
    for e in range(len(sizes)):
        combo = -1
        if first is not None:
            row = first.iloc[e]
            key = tuple(str(static_label(c, row[c.name])) for c in static_specs)
            combo = index[key]
        flat = [float(x) for col in per_column for x in col[e]]
        entity_levels.append(EntityLevel(combo=combo, values=flat))
    return out, entity_levels


def _value_columns(frame: pd.DataFrame, keys: set[str], columns: Sequence[str]) -> list[str]:
    """The columns to model: `columns` when given (checked), else all but the id and time."""
    names = list(columns) if columns else [c for c in frame.columns if c not in keys]
    unknown = [c for c in names if c not in frame.columns]
    if unknown:
        raise TableError(f"column(s) {unknown} not in the table; columns: {list(frame.columns)}")
    if not names:
        raise TableError("the table has no columns besides the id and time columns")
    return names


def _overrides(
    names: list[str], types: Sequence[str], bounds: Sequence[str]
) -> tuple[dict[str, str], dict[str, tuple[float, float]]]:
    """`--types col=kind` and `--bounds col=low:high`, checked; a bound implies `bounded`."""
    forced = _parse_pairs(types, "--types")
    for name, kind in forced.items():
        if name not in names:
            raise TableError(f"--types names '{name}', which is not a column; columns: {names}")
        if kind not in KINDS:
            raise TableError(f"--types {name}={kind}: the type must be one of {list(KINDS)}")
    limits: dict[str, tuple[float, float]] = {}
    for name, value in _parse_pairs(bounds, "--bounds").items():
        if name not in names:
            raise TableError(f"--bounds names '{name}', which is not a column; columns: {names}")
        low_s, sep, high_s = value.partition(":")
        try:
            low, high = float(low_s), float(high_s)
        except ValueError:
            raise TableError(f"--bounds {name}={value}: expected low:high numbers") from None
        if not sep or not low < high:
            raise TableError(f"--bounds {name}={value}: expected low:high with low < high")
        limits[name] = (low, high)
        forced.setdefault(name, "bounded")
    return forced, limits


def _static_columns(
    frame: pd.DataFrame,
    groups: Any,
    names: list[str],
    kinds: dict[str, str],
    static: Sequence[str] | None,
    id_column: str,
) -> set[str]:
    """The columns constant within each entity: inferred (discrete kinds only, more than one
    entity) when `static` is None, else the user's list, checked."""
    constant = {
        name
        for name in names
        if frame[name].notna().all() and bool((groups[name].nunique(dropna=False) <= 1).all())
    }
    if static is None:
        n_entities = frame[id_column].nunique()
        return {
            n
            for n in constant
            if n_entities > 1 and kinds[n] in ("categorical", "boolean", "integer", "count")
        }
    chosen = set(static)
    for name in chosen:
        if name not in names:
            raise TableError(f"--static names '{name}', which is not a column; columns: {names}")
        if name not in constant:
            raise TableError(
                f"--static column '{name}' changes within an entity (or has gaps); "
                "a static column holds one value per entity"
            )
    return chosen


def _column_spec(
    name: str,
    kind: str,
    series: pd.Series,
    is_static: bool,
    limits: tuple[float, float] | None,
) -> ColumnSpec:
    """One column's spec: its categories or scaled range, its share missing and its mask."""
    missing = float(series.isna().mean())
    if series.notna().sum() == 0:
        raise TableError(f"column '{name}' has no values at all; drop it")
    fields: dict[str, Any] = {"name": name, "kind": kind, "static": is_static}
    if kind == "categorical":
        fields["categories"] = _categories(name, series)
    elif kind in NUMERIC:
        fields.update(_numeric_range(name, kind, series, limits))
    else:  # boolean: checked here so a bad declared type fails now
        as_numbers(series, kind, name)
    fields["missing_share"] = missing
    fields["masked"] = missing > 0 and not is_static
    return ColumnSpec(**fields)


def _categories(name: str, series: pd.Series) -> list[str]:
    labels = sorted(series.dropna().astype(str).unique())
    if len(labels) > MAX_CATEGORIES:
        raise TableError(
            f"column '{name}' has {len(labels)} distinct text values (more than "
            f"{MAX_CATEGORIES}): an id or free text? Leave it out with --columns, or "
            f"declare its type with --types {name}=..."
        )
    return labels


def _numeric_range(
    name: str, kind: str, series: pd.Series, limits: tuple[float, float] | None
) -> dict[str, Any]:
    """`low`/`high` of the scaled range (log1p for counts), checked against the kind and the
    declared bounds."""
    values = as_numbers(series, kind, name)
    present = values[~np.isnan(values)]
    if kind == "count" and (present < 0).any():
        raise TableError(f"column '{name}' is declared count but has negative values")
    if kind in ("integer", "count") and np.any(np.floor(present) != present):
        raise TableError(f"column '{name}' is declared {kind} but has fractions")
    if limits is not None:
        low, high = limits
        if present.min() < low or present.max() > high:
            raise TableError(
                f"column '{name}' has values in [{present.min()}, {present.max()}], "
                f"outside its bounds [{low}, {high}]"
            )
    elif kind == "bounded":
        raise TableError(f"column '{name}' is bounded: give --bounds {name}=low:high")
    else:
        low, high = float(present.min()), float(present.max())
    fields: dict[str, Any] = {}
    if kind == "count" or (kind == "nonnegative" and limits is None and _heavy_tailed(present)):
        fields["log_scale"] = True
        low, high = float(np.log1p(low)), float(np.log1p(high))
    fields["low"], fields["high"] = low, high
    return fields


HEAVY_TAIL_RATIO = 1e3  # positive values whose 1st and 99th percentiles are this far apart


def _heavy_tailed(present: np.ndarray) -> bool:
    """Positive values spanning orders of magnitude: learned on a log1p scale, like counts."""
    positive = present[present > 0]
    if positive.size < 2:
        return False
    q01, q99 = np.quantile(positive, [0.01, 0.99])
    return bool(q01 > 0 and q99 / q01 >= HEAVY_TAIL_RATIO)


def _static_combos(groups: Any, static_specs: list[ColumnSpec]) -> list[StaticCombo]:
    """The static attribute combinations seen, with their entity counts."""
    if not static_specs:
        return []
    first = groups[[c.name for c in static_specs]].first()
    decoded = [
        tuple(static_label(c, v) for c, v in zip(static_specs, row, strict=True))
        for row in first.itertuples(index=False)
    ]
    counts: dict[tuple[Any, ...], int] = {}
    for row in decoded:
        counts[row] = counts.get(row, 0) + 1
    return [StaticCombo(values=list(k), count=v) for k, v in sorted(counts.items(), key=str)]


def static_label(column: ColumnSpec, value: Any) -> str | bool | float:
    if column.kind == "categorical":
        return str(value)
    if column.kind == "boolean":
        return str(value).strip().lower() in _TRUE
    return float(value)
