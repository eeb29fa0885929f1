"""Own tables: a long table (one row per entity and time) in, synthetic data in the same layout
out. This module holds what both sides need, without torch:

- `TableSpec`, saved in the manifest: the id and time columns, each other column's type and
  range, which columns are static (constant per entity), the static combinations and entity
  lengths seen in training, and the time spacing.
- `infer_spec` (trainer): reads a pandas frame and infers all of that; the user may override
  types, bounds and the static columns.
- `encode_entities` (trainer): each entity as a (T, D) array of model channels in [0, 1] and a
  static condition vector.
- `decode` (service and evaluation): model channels back to Arrow columns in the user's layout.

Channels, in this order (see `channel_layout`):
  one per numeric or boolean dynamic column, one per category of a categorical one (probabilities
  from a softmax); then one mask channel per dynamic column that had gaps (probability that the
  value is observed); then, for irregular timestamps, the log of the gap to the previous row.
Discrete channels (categories, booleans, masks) are sampled by the service from seeded
uniforms, so the same seed gives the same table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.noise import series_noise, series_uniforms

Kind = Literal["continuous", "integer", "count", "nonnegative", "bounded", "categorical", "boolean"]
KINDS: tuple[str, ...] = Kind.__args__  # type: ignore[attr-defined]
NUMERIC = ("continuous", "integer", "count", "nonnegative", "bounded")
MAX_CATEGORIES = 256
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


class TableError(ValueError):
    """A table or an option the trainer cannot use; the message says which column and why."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnSpec(_Frozen):
    name: str
    kind: Kind
    static: bool = Field(default=False, description="constant within each entity")
    categories: list[str] | None = Field(default=None, description="categorical: the labels")
    low: float | None = Field(default=None, description="numeric: low end of the scaled range")
    high: float | None = Field(default=None, description="numeric: high end of the scaled range")
    log_scale: bool = Field(default=False, description="count: scaled as log1p(value)")
    missing_share: float = Field(default=0.0, ge=0, le=1, description="share missing in training")
    masked: bool = Field(default=False, description="dynamic: a mask channel models the gaps")

    @model_validator(mode="after")
    def _check(self) -> ColumnSpec:
        if self.kind == "categorical" and not self.categories:
            raise ValueError(f"categorical column '{self.name}' needs its categories")
        if self.kind in NUMERIC and (self.low is None or self.high is None):
            raise ValueError(f"numeric column '{self.name}' needs low and high")
        return self

    @property
    def width(self) -> int:
        return len(self.categories or []) if self.kind == "categorical" else 1

    def scale(self, values: np.ndarray) -> np.ndarray:
        """Real units -> [0, 1] (numeric columns)."""
        x = np.log1p(np.maximum(values, 0.0)) if self.log_scale else values
        low, high = float(self.low or 0.0), float(self.high or 0.0)
        span = high - low if high > low else 1.0
        return np.clip((x - low) / span, 0.0, 1.0)

    def unscale(self, scaled: np.ndarray) -> np.ndarray:
        """[0, 1] -> real units, rounded and clipped as the column's type requires."""
        low, high = float(self.low or 0.0), float(self.high or 0.0)
        span = high - low if high > low else 1.0
        x = scaled.astype(np.float64) * span + low
        if self.log_scale:
            x = np.expm1(x)
        if self.kind in ("integer", "count"):
            x = np.rint(x)
        if self.kind in ("count", "nonnegative"):
            x = np.maximum(x, 0.0)
        return x


class TimeSpec(_Frozen):
    column: str
    kind: Literal["datetime", "numeric"]
    integer: bool = Field(default=False, description="numeric stamps that are all integers")
    regular: bool = Field(description="every entity's rows are evenly spaced by `step`")
    step: float = Field(gt=0, description="spacing (seconds for datetimes); median if irregular")
    freq: str | None = Field(default=None, description="pandas alias of `step` when regular")
    log_gap_low: float | None = Field(default=None, description="irregular: min log(gap)")
    log_gap_high: float | None = Field(default=None, description="irregular: max log(gap)")
    start_low: float = Field(description="earliest entity start (epoch seconds for datetimes)")
    start_high: float = Field(description="latest entity start")

    def parse(self, value: str | float | int) -> float:
        """A requested `start` (ISO-8601 string, or a number for numeric stamps) -> float."""
        if self.kind == "numeric":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TableError(f"'start' must be a number for the numeric column '{self.column}'")
            return float(value)
        if not isinstance(value, str):
            raise TableError(f"'start' must be an ISO-8601 date-time string, got {value!r}")
        try:
            stamp = pd.Timestamp(value)
        except (ValueError, TypeError) as exc:
            raise TableError(f"'start' {value!r} is not an ISO-8601 date-time: {exc}") from None
        if stamp is pd.NaT:
            raise TableError(f"'start' {value!r} is not a date-time")
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        return float(stamp.value) / 1e9


class StaticCombo(_Frozen):
    values: list[str | bool | float]
    count: int = Field(ge=1)


class TableSpec(_Frozen):
    """How a model maps to and from the user's table (saved in the manifest as `table`)."""

    id_column: str
    id_integer: bool = Field(description="entity ids come back as integers (else strings)")
    time: TimeSpec | None = None
    columns: list[ColumnSpec] = Field(min_length=1)
    static_combos: list[StaticCombo] = Field(
        default_factory=list, description="static attribute combinations and their entity counts"
    )
    length_values: list[int] = Field(min_length=1, description="entity lengths seen")
    length_counts: list[int] = Field(min_length=1, description="entities with each length")

    @model_validator(mode="after")
    def _check(self) -> TableSpec:
        if not self.dynamic:
            raise ValueError("a table model needs at least one column that varies in time")
        if len(self.length_values) != len(self.length_counts):
            raise ValueError("length_values and length_counts must have the same length")
        n_static = len(self.static)
        if any(len(c.values) != n_static for c in self.static_combos):
            raise ValueError("each static combination needs one value per static column")
        return self

    @property
    def static(self) -> list[ColumnSpec]:
        return [c for c in self.columns if c.static]

    @property
    def dynamic(self) -> list[ColumnSpec]:
        return [c for c in self.columns if not c.static]

    @property
    def time_column(self) -> str:
        return self.time.column if self.time is not None else "step"

    @property
    def condition_dim(self) -> int:
        """Width of the static condition vector (one-hots, scaled numbers, a constant 1)."""
        return sum(c.width for c in self.static) + 1

    @property
    def channels(self) -> int:
        return channel_layout(self).width


@dataclass(frozen=True)
class Layout:
    """Where each column's channels sit in the model's (T, D) output."""

    values: dict[str, slice]
    masks: dict[str, int]
    gap: int | None
    width: int

    def discrete(self, spec: TableSpec) -> list[str]:
        """Columns sampled from uniforms, one uniform per step each, in a fixed order."""
        return [c.name for c in spec.dynamic if c.kind in ("categorical", "boolean")]

    def uniforms_per_step(self, spec: TableSpec) -> int:
        return len(self.discrete(spec)) + len(self.masks)


def channel_layout(spec: TableSpec) -> Layout:
    values: dict[str, slice] = {}
    at = 0
    for column in spec.dynamic:
        values[column.name] = slice(at, at + column.width)
        at += column.width
    masks: dict[str, int] = {}
    for column in spec.dynamic:
        if column.masked:
            masks[column.name] = at
            at += 1
    gap = None
    if spec.time is not None and not spec.time.regular:
        gap, at = at, at + 1
    return Layout(values, masks, gap, at)


# --- inference of the spec from a table (trainer side) ---


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


def _as_numbers(series: pd.Series, kind: str, name: str) -> np.ndarray:
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
        freq=_freq_alias(step) if kind == "datetime" and regular else None,
        log_gap_low=float(np.log(gaps.min())) if not regular else None,
        log_gap_high=float(np.log(gaps.max())) if not regular else None,
        start_low=float(starts.min()),
        start_high=float(starts.max()),
    )
    return frame, spec


def _freq_alias(seconds: float) -> str | None:
    for unit, size in (("D", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}" if seconds != size else unit
    return None


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
    names = list(columns) if columns else [c for c in frame.columns if c not in keys]
    unknown = [c for c in names if c not in frame.columns]
    if unknown:
        raise TableError(f"column(s) {unknown} not in the table; columns: {list(frame.columns)}")
    if not names:
        raise TableError("the table has no columns besides the id and time columns")
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
    groups = frame.groupby(id_column, sort=False)
    constant = {
        name
        for name in names
        if frame[name].notna().all() and bool((groups[name].nunique(dropna=False) <= 1).all())
    }
    kinds = {name: forced.get(name) or infer_kind(frame[name]) for name in names}
    n_entities = frame[id_column].nunique()
    if static is None:
        static_set = {
            n
            for n in constant
            if n_entities > 1 and kinds[n] in ("categorical", "boolean", "integer", "count")
        }
    else:
        static_set = set(static)
        for name in static_set:
            if name not in names:
                raise TableError(
                    f"--static names '{name}', which is not a column; columns: {names}"
                )
            if name not in constant:
                raise TableError(
                    f"--static column '{name}' changes within an entity (or has gaps); "
                    "a static column holds one value per entity"
                )
    specs: list[ColumnSpec] = []
    for name in names:
        kind = kinds[name]
        series = frame[name]
        missing = float(series.isna().mean())
        if series.notna().sum() == 0:
            raise TableError(f"column '{name}' has no values at all; drop it")
        fields: dict[str, Any] = {"name": name, "kind": kind, "static": name in static_set}
        if kind == "categorical":
            labels = sorted(series.dropna().astype(str).unique())
            if len(labels) > MAX_CATEGORIES:
                raise TableError(
                    f"column '{name}' has {len(labels)} distinct text values (more than "
                    f"{MAX_CATEGORIES}): an id or free text? Leave it out with --columns, or "
                    f"declare its type with --types {name}=..."
                )
            fields["categories"] = labels
        elif kind in NUMERIC:
            values = _as_numbers(series, kind, name)
            present = values[~np.isnan(values)]
            if kind == "count" and (present < 0).any():
                raise TableError(f"column '{name}' is declared count but has negative values")
            if kind in ("integer", "count") and np.any(np.floor(present) != present):
                raise TableError(f"column '{name}' is declared {kind} but has fractions")
            if name in limits:
                low, high = limits[name]
                if present.min() < low or present.max() > high:
                    raise TableError(
                        f"column '{name}' has values in [{present.min()}, {present.max()}], "
                        f"outside its bounds [{low}, {high}]"
                    )
            elif kind == "bounded":
                raise TableError(f"column '{name}' is bounded: give --bounds {name}=low:high")
            else:
                low, high = float(present.min()), float(present.max())
            if kind == "count":
                fields["log_scale"] = True
                low, high = float(np.log1p(low)), float(np.log1p(high))
            fields["low"], fields["high"] = low, high
        else:  # boolean: checked here so a bad declared type fails now
            _as_numbers(series, kind, name)
        fields["missing_share"] = missing
        fields["masked"] = missing > 0 and name not in static_set
        specs.append(ColumnSpec(**fields))
    static_specs = [c for c in specs if c.static]
    combos: list[StaticCombo] = []
    if static_specs:
        first = groups[[c.name for c in static_specs]].first()
        decoded = [
            tuple(_static_label(c, v) for c, v in zip(static_specs, row, strict=True))
            for row in first.itertuples(index=False)
        ]
        counts: dict[tuple[Any, ...], int] = {}
        for row in decoded:
            counts[row] = counts.get(row, 0) + 1
        combos = [StaticCombo(values=list(k), count=v) for k, v in sorted(counts.items(), key=str)]
    lengths = groups.size()
    values, counts_ = np.unique(lengths.to_numpy(), return_counts=True)
    ids = frame[id_column]
    id_integer = pd.api.types.is_integer_dtype(ids.dtype)
    spec = TableSpec(
        id_column=id_column,
        id_integer=bool(id_integer),
        time=time_spec,
        columns=specs,
        static_combos=combos,
        length_values=[int(v) for v in values],
        length_counts=[int(c) for c in counts_],
    )
    return spec, frame


def _static_label(column: ColumnSpec, value: Any) -> str | bool | float:
    if column.kind == "categorical":
        return str(value)
    if column.kind == "boolean":
        return str(value).strip().lower() in _TRUE
    return float(value)


def describe(spec: TableSpec) -> str:
    """A plain-text summary for the user to check before training."""
    lines = [f"id column: {spec.id_column} ({'integer' if spec.id_integer else 'text'})"]
    counts = np.asarray(spec.length_counts)
    lengths = np.repeat(spec.length_values, counts)
    lines.append(
        f"entities: {int(counts.sum())}, rows per entity: min {lengths.min()}, "
        f"median {int(np.median(lengths))}, max {lengths.max()}"
    )
    if spec.time is None:
        lines.append("time column: none (rows in file order, steps 0, 1, ...)")
    else:
        t = spec.time
        spacing = f"regular every {t.freq or t.step}" if t.regular else "irregular (gap learned)"
        lines.append(f"time column: {t.column} ({t.kind}, {spacing})")
    lines.append(f"{'column':<24} {'type':<12} {'role':<8} {'missing':>8}  details")
    for c in spec.columns:
        if c.kind == "categorical":
            cats = c.categories or []
            detail = (
                f"{len(cats)} categories: " + ", ".join(cats[:6]) + (" …" if len(cats) > 6 else "")
            )
        elif c.kind == "boolean":
            detail = ""
        else:
            low, high = (
                (math.expm1(c.low or 0), math.expm1(c.high or 0))
                if c.log_scale
                else (
                    c.low,
                    c.high,
                )
            )
            detail = f"range [{low:g}, {high:g}]" + (" log-scaled" if c.log_scale else "")
        role = "static" if c.static else "dynamic"
        lines.append(f"{c.name:<24} {c.kind:<12} {role:<8} {c.missing_share:>8.1%}  {detail}")
    if spec.static:
        lines.append(f"static combinations seen: {len(spec.static_combos)}")
    return "\n".join(lines)


# --- encoding (trainer side) ---


def condition_vector(spec: TableSpec, values: Sequence[Any]) -> np.ndarray:
    """Static values (one per static column, as in `StaticCombo.values`) -> (C,) float32."""
    parts: list[np.ndarray] = []
    for column, value in zip(spec.static, values, strict=True):
        if column.kind == "categorical":
            one_hot = np.zeros(column.width, dtype=np.float32)
            one_hot[(column.categories or []).index(str(value))] = 1.0
            parts.append(one_hot)
        elif column.kind == "boolean":
            parts.append(np.asarray([1.0 if value else 0.0], dtype=np.float32))
        else:
            parts.append(column.scale(np.asarray([float(value)])).astype(np.float32))
    parts.append(np.ones(1, dtype=np.float32))
    return np.concatenate(parts)


def _fill(values: np.ndarray) -> np.ndarray:
    """Gaps filled by linear interpolation inside the entity, ends by the nearest value."""
    series = pd.Series(values)
    if series.isna().all():
        return np.full_like(values, np.nan)
    return series.interpolate(limit_direction="both").to_numpy(dtype=np.float64)


def encode_entities(spec: TableSpec, frame: pd.DataFrame) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each entity of a frame sorted by `infer_spec` as ((T, D) channels, (C,) condition)."""
    layout = channel_layout(spec)
    out: list[tuple[np.ndarray, np.ndarray]] = []
    column_means: dict[str, float] = {}
    for column in spec.dynamic:
        if column.kind in NUMERIC or column.kind == "boolean":
            column_means[column.name] = float(
                np.nanmean(_as_numbers(frame[column.name], column.kind, column.name))
            )
    for _, entity in frame.groupby(spec.id_column, sort=False):
        length = len(entity)
        x = np.zeros((length, layout.width), dtype=np.float32)
        for column in spec.dynamic:
            where = layout.values[column.name]
            series = entity[column.name]
            present = series.notna().to_numpy()
            if column.kind == "categorical":
                labels = series.astype(str).where(series.notna())
                codes = pd.Categorical(labels, categories=column.categories).codes
                held = pd.Series(np.where(codes >= 0, codes, np.nan)).ffill().bfill()
                idx = held.fillna(0).to_numpy(dtype=np.int64)
                x[np.arange(length), where.start + idx] = 1.0
            else:
                raw = _as_numbers(series, column.kind, column.name)
                filled = _fill(raw)
                if np.isnan(filled).any():
                    filled = np.full(length, column_means[column.name])
                x[:, where.start] = (
                    np.rint(filled) if column.kind == "boolean" else column.scale(filled)
                )
            if column.name in layout.masks:
                x[:, layout.masks[column.name]] = present
        if layout.gap is not None and spec.time is not None:
            t = entity["__t"].to_numpy(dtype=np.float64)
            gaps = np.diff(t, prepend=t[0] - spec.time.step) if length > 1 else np.array([1.0])
            if length > 1:
                gaps[0] = gaps[1]
            x[:, layout.gap] = _scale_gap(spec.time, gaps)
        first = entity.iloc[0]
        static_values = [_static_label(c, first[c.name]) for c in spec.static]
        out.append((x, condition_vector(spec, static_values)))
    return out


def _scale_gap(time: TimeSpec, gaps: np.ndarray) -> np.ndarray:
    low, high = float(time.log_gap_low or 0.0), float(time.log_gap_high or 0.0)
    span = high - low if high > low else 1.0
    return np.clip((np.log(np.maximum(gaps, 1e-12)) - low) / span, 0.0, 1.0)


def _unscale_gap(time: TimeSpec, scaled: np.ndarray) -> np.ndarray:
    low, high = float(time.log_gap_low or 0.0), float(time.log_gap_high or 0.0)
    span = high - low if high > low else 1.0
    return np.exp(scaled.astype(np.float64) * span + low)


# --- static attributes of requested series (service side) ---


def resolve_condition(spec: TableSpec, condition: Mapping[str, Any]) -> dict[str, Any]:
    """Check a request's `condition` and return it with values in spec form, or raise TableError
    naming the unknown column or value."""
    static = {c.name: c for c in spec.static}
    out: dict[str, Any] = {}
    for name, value in condition.items():
        column = static.get(name)
        if column is None:
            known = ", ".join(static) or "none"
            dynamic = {c.name for c in spec.dynamic}
            why = "varies in time" if name in dynamic else "is not a column of this model"
            raise TableError(f"condition column '{name}' {why}; the static columns are: {known}")
        if column.kind == "categorical":
            if not isinstance(value, str) or value not in (column.categories or []):
                raise TableError(
                    f"condition {name}={value!r} is not a known category; known: "
                    + ", ".join(column.categories or [])
                )
            out[name] = value
        elif column.kind == "boolean":
            if not isinstance(value, bool):
                raise TableError(f"condition {name} must be true or false, got {value!r}")
            out[name] = value
        else:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TableError(f"condition {name} must be a number, got {value!r}")
            if column.kind in ("integer", "count") and float(value) != int(value):
                raise TableError(f"condition {name} must be a whole number, got {value!r}")
            low, high = column.unscale(np.array([0.0, 1.0]))
            if not low <= value <= high:
                raise TableError(
                    f"condition {name}={value} is outside the range seen in training "
                    f"[{low:g}, {high:g}]"
                )
            out[name] = float(value)
    return out


def draw_static(
    spec: TableSpec, condition: Mapping[str, Any], uniforms: np.ndarray
) -> list[list[Any]]:
    """Static values for each series: a training combination agreeing with `condition`, drawn in
    proportion to its entity count; when none agrees, each unset column is drawn from its own
    frequencies. `uniforms` is (n, 1 + S): one for the combination, one per static column."""
    static = spec.static
    if not static:
        return [[] for _ in range(len(uniforms))]
    combos = spec.static_combos
    match = [
        c
        for c in combos
        if all(
            _same(v, condition[s.name])
            for s, v in zip(static, c.values, strict=True)
            if s.name in condition
        )
    ]
    rows: list[list[Any]] = []
    if match:
        weights = np.cumsum([c.count for c in match], dtype=np.float64)
        picks = np.searchsorted(weights / weights[-1], uniforms[:, 0], side="right")
        for pick in np.minimum(picks, len(match) - 1):
            rows.append(list(match[int(pick)].values))
        return rows
    for u in uniforms:
        row: list[Any] = []
        for k, column in enumerate(static):
            if column.name in condition:
                row.append(condition[column.name])
                continue
            seen = [c.values[k] for c in combos]
            weights = np.cumsum([c.count for c in combos], dtype=np.float64)
            pick = int(np.searchsorted(weights / weights[-1], u[1 + k], side="right"))
            row.append(seen[min(pick, len(seen) - 1)])
        rows.append(row)
    return rows


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return bool(np.isclose(float(a), float(b)))
    return bool(a == b)


def draw_lengths(spec: TableSpec, uniforms: np.ndarray) -> np.ndarray:
    """Series lengths drawn from the training entities' lengths, one uniform each."""
    weights = np.cumsum(spec.length_counts, dtype=np.float64)
    picks = np.searchsorted(weights / weights[-1], uniforms, side="right")
    values = np.asarray(spec.length_values, dtype=np.int64)
    return values[np.minimum(picks, len(values) - 1)]


# --- decoding (service and evaluation) ---


def time_type(spec: TableSpec) -> pa.DataType:
    if spec.time is None:
        return pa.int64()
    if spec.time.kind == "datetime":
        return pa.timestamp("s")
    return pa.int64() if spec.time.integer else pa.float64()


def arrow_schema(spec: TableSpec) -> pa.Schema:
    fields = [
        pa.field(spec.id_column, pa.int64() if spec.id_integer else pa.string()),
        pa.field(spec.time_column, time_type(spec)),
    ]
    for column in spec.static + spec.dynamic:
        fields.append(pa.field(column.name, _value_type(column)))
    return pa.schema(fields)


def _value_type(column: ColumnSpec) -> pa.DataType:
    if column.kind == "categorical":
        return pa.string()
    if column.kind == "boolean":
        return pa.bool_()
    if column.kind in ("integer", "count"):
        return pa.int64()
    return pa.float64()


def series_ids(spec: TableSpec, start: int, count: int) -> list[int] | list[str]:
    if spec.id_integer:
        return list(range(start, start + count))
    return [f"synthetic-{i}" for i in range(start, start + count)]


@dataclass(frozen=True)
class Decoded:
    """Series in the user's layout: per series its id, static values, stamps and columns."""

    ids: list[int] | list[str]
    static: list[list[Any]]  # (n, S), spec form
    times: list[np.ndarray]  # per series (T_i,) epoch seconds or numbers
    columns: dict[str, list[np.ndarray]]  # dynamic column -> per series values (object if str)
    missing: dict[str, list[np.ndarray]]  # dynamic column -> per series (T_i,) bool, True = gap

    def to_arrow(self, spec: TableSpec) -> pa.Table:
        lengths = [len(t) for t in self.times]
        total = int(sum(lengths))
        schema = arrow_schema(spec)
        ids = (
            pa.array(
                np.repeat(np.asarray(self.ids, dtype=object), lengths).tolist(),
                type=schema.field(0).type,
            )
            if total
            else pa.array([], schema.field(0).type)
        )
        stamps = np.concatenate(self.times) if total else np.zeros(0)
        if spec.time is not None and spec.time.kind == "datetime":
            times = pa.array(np.rint(stamps).astype("int64"), type=pa.int64()).cast(
                pa.timestamp("s")
            )
        elif time_type(spec) == pa.float64():
            times = pa.array(stamps, type=pa.float64())
        else:
            times = pa.array(np.rint(stamps).astype(np.int64), type=pa.int64())
        arrays = [ids, times]
        for k, column in enumerate(spec.static):
            per_row = np.repeat(np.asarray([row[k] for row in self.static], dtype=object), lengths)
            arrays.append(pa.array(per_row.tolist(), type=_value_type(column)))
        for column in spec.dynamic:
            values = np.concatenate(self.columns[column.name]) if total else np.zeros(0)
            gaps = np.concatenate(self.missing[column.name]) if total else np.zeros(0, bool)
            kind = _value_type(column)
            if kind == pa.string():
                arrays.append(pa.array(values.tolist(), type=kind, mask=gaps))
            elif kind == pa.bool_():
                arrays.append(pa.array(values.astype(bool), type=kind, mask=gaps))
            elif kind == pa.int64():
                arrays.append(pa.array(values.astype(np.int64), type=kind, mask=gaps))
            else:
                arrays.append(pa.array(values.astype(np.float64), type=kind, mask=gaps))
        return pa.Table.from_arrays(arrays, schema=schema)

    def to_json(self, spec: TableSpec) -> dict[str, Any]:
        """The /samples fields: samples (n × T_i × dynamic columns), ids, timestamps, static."""
        samples: list[list[list[Any]]] = []
        for i in range(len(self.ids)):
            cols: list[list[Any]] = []
            for column in spec.dynamic:
                values = self.columns[column.name][i]
                gaps = self.missing[column.name][i]
                if column.kind == "categorical":
                    cols.append([None if g else str(v) for v, g in zip(values, gaps, strict=True)])
                elif column.kind == "boolean":
                    cols.append([None if g else bool(v) for v, g in zip(values, gaps, strict=True)])
                elif column.kind in ("integer", "count"):
                    cols.append([None if g else int(v) for v, g in zip(values, gaps, strict=True)])
                else:
                    cols.append(
                        [None if g else float(v) for v, g in zip(values, gaps, strict=True)]
                    )
            samples.append([list(row) for row in zip(*cols, strict=True)])
        if spec.time is not None and spec.time.kind == "datetime":
            stamps: list[list[Any]] = [
                [pd.Timestamp(int(round(s)), unit="s").isoformat() for s in t] for t in self.times
            ]
        elif spec.time is None or spec.time.integer:
            stamps = [[int(round(s)) for s in t] for t in self.times]
        else:
            stamps = [[float(s) for s in t] for t in self.times]
        static = [
            {c.name: _json_static(c, row[k]) for k, c in enumerate(spec.static)}
            for row in self.static
        ]
        return {"ids": self.ids, "timestamps": stamps, "static": static, "samples": samples}


def _json_static(column: ColumnSpec, value: Any) -> Any:
    if column.kind in ("integer", "count"):
        return int(round(float(value)))
    if column.kind in ("continuous", "nonnegative", "bounded"):
        return float(value)
    return value


def sample_categories(probs: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Category indices (...) drawn from probabilities (..., K) by inverse CDF, one uniform in
    (0, 1) each."""
    cdf = np.cumsum(probs.astype(np.float64), axis=-1)
    cdf /= np.maximum(cdf[..., -1:], 1e-12)
    return np.minimum((u[..., None] > cdf).sum(axis=-1), probs.shape[-1] - 1)


def decode(
    spec: TableSpec,
    raw: np.ndarray,
    *,
    uniforms: np.ndarray,
    lengths: np.ndarray,
    static: list[list[Any]],
    starts: np.ndarray,
    ids: list[int] | list[str],
    impute: bool = False,
) -> Decoded:
    """Model output (n, T, D) in [0, 1] -> series in the user's layout.

    `uniforms` (n, T, U) sample the discrete channels (U = `Layout.uniforms_per_step`), series
    `i` keeps its first `lengths[i]` steps, starting at `starts[i]`. With `impute`, values that
    the mask channel marks missing are returned as generated instead of as gaps."""
    layout = channel_layout(spec)
    n = raw.shape[0]
    discrete = layout.discrete(spec)
    columns: dict[str, list[np.ndarray]] = {}
    missing: dict[str, list[np.ndarray]] = {}
    for column in spec.dynamic:
        block = raw[:, :, layout.values[column.name]]
        if column.kind == "categorical":
            idx = sample_categories(block, uniforms[:, :, discrete.index(column.name)])
            labels = np.asarray(column.categories, dtype=object)
            values = labels[idx]
        elif column.kind == "boolean":
            u = uniforms[:, :, discrete.index(column.name)]
            values = u < block[..., 0]
        else:
            values = column.unscale(block[..., 0])
        if column.name in layout.masks and not impute:
            k = len(discrete) + list(layout.masks).index(column.name)
            gaps = uniforms[:, :, k] >= raw[:, :, layout.masks[column.name]]
        else:
            gaps = np.zeros(values.shape, dtype=bool)
        columns[column.name] = [values[i, : lengths[i]] for i in range(n)]
        missing[column.name] = [gaps[i, : lengths[i]] for i in range(n)]
    times: list[np.ndarray] = []
    for i in range(n):
        length = int(lengths[i])
        if spec.time is None:
            times.append(np.arange(length, dtype=np.float64))
            continue
        if layout.gap is None:
            offsets = np.arange(length, dtype=np.float64) * spec.time.step
        else:
            gaps_i = _unscale_gap(spec.time, raw[i, :length, layout.gap])
            if spec.time.kind == "datetime" or spec.time.integer:
                gaps_i = np.maximum(np.rint(gaps_i), 1.0)
            gaps_i[0] = 0.0
            offsets = np.cumsum(gaps_i)
        times.append(starts[i] + offsets)
    return Decoded(ids=ids, static=static, times=times, columns=columns, missing=missing)


def draw_starts(spec: TableSpec, uniforms: np.ndarray, start: float | None) -> np.ndarray:
    """Each series' first stamp: the requested `start`, else drawn over the training starts'
    span, on the data's own grid of `step` from the earliest start."""
    if spec.time is None:
        return np.zeros(len(uniforms))
    if start is not None:
        return np.full(len(uniforms), start, dtype=np.float64)
    t = spec.time
    steps = np.floor(uniforms * ((t.start_high - t.start_low) / t.step + 1))
    out = t.start_low + np.minimum(steps * t.step, t.start_high - t.start_low)
    return out


# --- the whole path from a seed to series (service, CLI and evaluation share it) ---

RunGraph = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (noise, condition) -> (n, T, D)
_META_STREAM, _DISCRETE_STREAM = 1, 2


def plan_lengths(
    spec: TableSpec, *, seed: int, offset: int, n: int, length: int | None
) -> np.ndarray:
    """Each series' length: `length` when given, else drawn from the training entities'."""
    if length is not None:
        return np.full(n, length, dtype=np.int64)
    u = series_uniforms(seed, _META_STREAM, offset, n, 1, 1)[:, 0, 0]
    return draw_lengths(spec, u)


def draw_series(
    spec: TableSpec,
    run: RunGraph,
    *,
    latent_dim: int,
    n: int,
    seed: int,
    offset: int = 0,
    length: int | None = None,
    condition: Mapping[str, Any] | None = None,
    min_steps: int = 0,
) -> tuple[np.ndarray, np.ndarray, list[list[Any]], np.ndarray]:
    """The undecoded part of `synthesize`: model output (n, T, D) for series `offset …`, their
    lengths, static values and the per-series uniforms of the meta stream (length, start,
    static draws). T is the longest length, at least `min_steps`."""
    meta = series_uniforms(seed, _META_STREAM, offset, n, 1, 3 + len(spec.static))[:, 0, :]
    # meta[:, 0] is the uniform `plan_lengths` draws: the same lengths, without a second draw.
    lengths = (
        np.full(n, length, dtype=np.int64) if length is not None else draw_lengths(spec, meta[:, 0])
    )
    static = draw_static(spec, condition or {}, meta[:, 2:])
    cond = np.stack([condition_vector(spec, row) for row in static]).astype(np.float32)
    noise = series_noise(seed, offset, n, max(int(lengths.max()), min_steps), latent_dim)
    raw = np.asarray(run(noise, cond), dtype=np.float32)
    return raw, lengths, static, meta


def synthesize(
    spec: TableSpec,
    run: RunGraph,
    *,
    latent_dim: int,
    n: int,
    seed: int,
    offset: int = 0,
    length: int | None = None,
    condition: Mapping[str, Any] | None = None,
    start: float | None = None,
    impute: bool = False,
) -> Decoded:
    """Series `offset … offset+n-1` of `seed`'s stream, decoded. Series `i` is the same whatever
    `n` and `offset` are: its length, start, static values, noise and discrete draws all come
    from counter-based streams keyed by (seed, i). `condition` must come from
    `resolve_condition`."""
    raw, lengths, static, meta = draw_series(
        spec,
        run,
        latent_dim=latent_dim,
        n=n,
        seed=seed,
        offset=offset,
        length=length,
        condition=condition,
    )
    starts = draw_starts(spec, meta[:, 1], start)
    per_step = max(1, channel_layout(spec).uniforms_per_step(spec))
    uniforms = series_uniforms(seed, _DISCRETE_STREAM, offset, n, raw.shape[1], per_step)
    return decode(
        spec,
        raw,
        uniforms=uniforms,
        lengths=lengths,
        static=static,
        starts=starts,
        ids=series_ids(spec, offset, n),
        impute=impute,
    )
