"""Own tables, the spec: how a model maps to and from a user's long table (one row per entity
and time). Saved in the manifest as `table`; pydantic and numpy only, so reading a manifest pulls
in neither pandas nor pyarrow.

Channels, in this order (see `channel_layout`):
  one per numeric or boolean dynamic column, one per category of a categorical one (probabilities
  from a softmax); then one mask channel per dynamic column that had gaps (probability that the
  value is observed); then, for irregular timestamps, the log of the gap to the previous row.
Discrete channels (categories, booleans, masks) are sampled from seeded uniforms, so the same
seed gives the same table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

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
    log_scale: bool = Field(
        default=False,
        description="counts, and positive columns spanning orders of magnitude: log1p(value)",
    )
    missing_share: float = Field(default=0.0, ge=0, le=1, description="share missing in training")
    masked: bool = Field(default=False, description="dynamic: a mask channel models the gaps")
    level: bool = Field(
        default=False,
        description="dynamic numeric: encoded relative to each entity's level (mean and std of "
        "the (log) values, `TableSpec.entity_levels`), which the generator is conditioned on",
    )
    z_low: float | None = Field(default=None, description="level: low end of the standardised")
    z_high: float | None = Field(default=None, description="level: high end of the standardised")

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

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Real units -> the space the column is scaled in (log1p when `log_scale`)."""
        return np.log1p(np.maximum(values, 0.0)) if self.log_scale else values

    def level_floor(self) -> float:
        """The smallest entity std a level uses (a constant entity has z = 0)."""
        return 1e-3 * (float(self.high or 0.0) - float(self.low or 0.0)) + 1e-12

    def entity_level(self, values: np.ndarray) -> tuple[float, float] | None:
        """An entity's level: mean and std (at least `level_floor`) of its present values,
        transformed; None when it has none."""
        x = self.transform(values[~np.isnan(values)].astype(np.float64))
        if x.size == 0:
            return None
        return float(x.mean()), max(float(x.std()), self.level_floor())

    def scale(self, values: np.ndarray, level: tuple[Any, Any] | None = None) -> np.ndarray:
        """Real units -> [0, 1] (numeric columns); with `level` (an entity's mean and std of the
        transformed values), relative to that level."""
        x = self.transform(values)
        if self.level and level is not None:
            z = (x - level[0]) / level[1]
            z_low, z_high = float(self.z_low or 0.0), float(self.z_high or 0.0)
            return np.clip((z - z_low) / (z_high - z_low if z_high > z_low else 1.0), 0.0, 1.0)
        low, high = float(self.low or 0.0), float(self.high or 0.0)
        span = high - low if high > low else 1.0
        return np.clip((x - low) / span, 0.0, 1.0)

    def unscale(self, scaled: np.ndarray, level: tuple[Any, Any] | None = None) -> np.ndarray:
        """[0, 1] -> real units, rounded and clipped as the column's type requires; with
        `level`, relative to that entity level (kept inside the training range)."""
        low, high = float(self.low or 0.0), float(self.high or 0.0)
        span = high - low if high > low else 1.0
        if self.level and level is not None:
            z_low, z_high = float(self.z_low or 0.0), float(self.z_high or 0.0)
            z = scaled.astype(np.float64) * (z_high - z_low if z_high > z_low else 1.0) + z_low
            x = np.clip(np.asarray(level[0]) + np.asarray(level[1]) * z, low, high)
        else:
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
    freq: str | None = Field(
        default=None,
        description="pandas frequency alias: of `step` when regular, or a calendar frequency "
        "('MS', 'ME', 'B', ...) whose gaps in seconds vary (then `regular` is false)",
    )
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
        import pandas as pd  # only for a requested datetime `start`; keeps the spec pandas-free

        try:
            stamp = pd.Timestamp(value)
        except (ValueError, TypeError) as exc:
            raise TableError(f"'start' {value!r} is not an ISO-8601 date-time: {exc}") from None
        if stamp is pd.NaT:
            raise TableError(f"'start' {value!r} is not a date-time")
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        try:
            return float(stamp.value) / 1e9
        except OverflowError:  # a date-time outside what stamps in nanoseconds hold
            raise TableError(
                f"'start' {value!r} is outside the date-times this service represents "
                "(1677-09-22 to 2262-04-11)."
            ) from None


class StaticCombo(_Frozen):
    values: list[str | bool | float]
    count: int = Field(ge=1)


class EntityLevel(_Frozen):
    """One training entity's levels: its static combination (index into `static_combos`, -1
    without static columns) and, per level column in order, the mean and std of its values."""

    combo: int = Field(ge=-1)
    values: list[float]


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
    entity_levels: list[EntityLevel] = Field(
        default_factory=list,
        description="per training entity, the levels of the level columns (drawn at sampling)",
    )

    @model_validator(mode="after")
    def _check(self) -> TableSpec:
        if not self.dynamic:
            raise ValueError("a table model needs at least one column that varies in time")
        width = 2 * len(self.level_columns)
        if width and not self.entity_levels:
            raise ValueError("level columns need entity_levels")
        if any(len(e.values) != width for e in self.entity_levels):
            raise ValueError("each entity level needs a mean and a std per level column")
        if any(e.combo >= len(self.static_combos) for e in self.entity_levels):
            raise ValueError("an entity level names a static combination that is not there")
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
    def level_columns(self) -> list[ColumnSpec]:
        return [c for c in self.dynamic if c.level]

    @property
    def condition_dim(self) -> int:
        """Width of the static condition vector (one-hots, scaled numbers, two level features
        per level column, a constant 1)."""
        return sum(c.width for c in self.static) + 2 * len(self.level_columns) + 1

    def level_features(self, levels: np.ndarray) -> np.ndarray:
        """Entity levels (n, 2L) -> (n, 2L) in [0, 1]: each mean and log std scaled by the
        range over the training entities."""
        table = np.asarray([e.values for e in self.entity_levels], dtype=np.float64)
        x = np.asarray(levels, dtype=np.float64).copy()
        table[:, 1::2], x[:, 1::2] = np.log(table[:, 1::2]), np.log(x[:, 1::2])
        low, high = table.min(axis=0), table.max(axis=0)
        span = np.where(high > low, high - low, 1.0)
        return np.clip((x - low) / span, 0.0, 1.0).astype(np.float32)

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


def scale_gap(time: TimeSpec, gaps: np.ndarray) -> np.ndarray:
    low, high = float(time.log_gap_low or 0.0), float(time.log_gap_high or 0.0)
    span = high - low if high > low else 1.0
    return np.clip((np.log(np.maximum(gaps, 1e-12)) - low) / span, 0.0, 1.0)


def unscale_gap(time: TimeSpec, scaled: np.ndarray) -> np.ndarray:
    low, high = float(time.log_gap_low or 0.0), float(time.log_gap_high or 0.0)
    span = high - low if high > low else 1.0
    return np.exp(scaled.astype(np.float64) * span + low)


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
        if t.regular:
            spacing = f"regular every {t.freq or t.step}"
        elif t.freq:
            spacing = f"calendar frequency {t.freq} (synthetic stamps stay on it)"
        else:
            spacing = "irregular (gap learned)"
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
            detail = (
                f"range [{low:g}, {high:g}]"
                + (" log-scaled" if c.log_scale else "")
                + (" per-entity level" if c.level else "")
            )
        role = "static" if c.static else "dynamic"
        lines.append(f"{c.name:<24} {c.kind:<12} {role:<8} {c.missing_share:>8.1%}  {detail}")
    if spec.static:
        lines.append(f"static combinations seen: {len(spec.static_combos)}")
    return "\n".join(lines)
