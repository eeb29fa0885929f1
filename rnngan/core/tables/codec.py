"""Own tables, the codec: a user's entities to model channels in [0, 1] (`encode_entities`,
trainer side) and model channels back to Arrow columns in the user's layout (`decode`, service,
CLI and evaluation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from rnngan.core.tables.infer import as_numbers, static_label
from rnngan.core.tables.spec import (
    NUMERIC,
    ColumnSpec,
    TableSpec,
    channel_layout,
    scale_gap,
    unscale_gap,
)
from rnngan.core.tables.stamps import calendar_offset, snap_times


def condition_vector(
    spec: TableSpec, values: Sequence[Any], level: np.ndarray | None = None
) -> np.ndarray:
    """Static values (one per static column, as in `StaticCombo.values`) and, for a spec with
    level columns, the entity's levels (2L,) -> (C,) float32."""
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
    if spec.level_columns:
        assert level is not None, "a spec with level columns conditions on the entity's levels"
        parts.append(spec.level_features(np.asarray(level)[None])[0])
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
                np.nanmean(as_numbers(frame[column.name], column.kind, column.name))
            )
    grouped = frame.groupby(spec.id_column, sort=False)
    # The training frame's entities have their levels in the spec (inferred from the same rows);
    # another frame's are measured here.
    stored = spec.entity_levels if len(spec.entity_levels) == grouped.ngroups else None
    level_at = {c.name: 2 * j for j, c in enumerate(spec.level_columns)}
    for e, (_, entity) in enumerate(grouped):
        length = len(entity)
        x = np.zeros((length, layout.width), dtype=np.float32)
        levels: list[float] = list(stored[e].values) if stored is not None else []
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
                raw = as_numbers(series, column.kind, column.name)
                filled = _fill(raw)
                if np.isnan(filled).any():
                    filled = np.full(length, column_means[column.name])
                level: tuple[float, float] | None = None
                if column.level and stored is not None:
                    j = level_at[column.name]
                    level = (levels[j], levels[j + 1])
                elif column.level:
                    level = column.entity_level(raw) or column.entity_level(filled)
                    level = level or (0.0, column.level_floor())
                    levels += list(level)
                x[:, where.start] = (
                    np.rint(filled) if column.kind == "boolean" else column.scale(filled, level)
                )
            if column.name in layout.masks:
                x[:, layout.masks[column.name]] = present
        if layout.gap is not None and spec.time is not None:
            t = entity["__t"].to_numpy(dtype=np.float64)
            gaps = np.diff(t, prepend=t[0] - spec.time.step) if length > 1 else np.array([1.0])
            if length > 1:
                gaps[0] = gaps[1]
            x[:, layout.gap] = scale_gap(spec.time, gaps)
        first = entity.iloc[0]
        static_values = [static_label(c, first[c.name]) for c in spec.static]
        out.append(
            (x, condition_vector(spec, static_values, np.asarray(levels) if levels else None))
        )
    return out


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
    levels: np.ndarray | None = None,
) -> Decoded:
    """Model output (n, T, D) in [0, 1] -> series in the user's layout.

    `uniforms` (n, T, U) sample the discrete channels (U = `Layout.uniforms_per_step`), series
    `i` keeps its first `lengths[i]` steps, starting at `starts[i]`; on a calendar frequency
    its generated gaps are whole periods of it (stamps.py `snap_times`). With `impute`, values that
    the mask channel marks missing are returned as generated instead of as gaps. `levels`
    (n, 2L) are each series' entity levels, for a spec with level columns."""
    layout = channel_layout(spec)
    n = raw.shape[0]
    discrete = layout.discrete(spec)
    level_at = {c.name: 2 * j for j, c in enumerate(spec.level_columns)}
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
        elif column.name in level_at:
            assert levels is not None, "a spec with level columns decodes with entity levels"
            j = level_at[column.name]
            values = column.unscale(block[..., 0], (levels[:, j : j + 1], levels[:, j + 1 : j + 2]))
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
            gaps_i = unscale_gap(spec.time, raw[i, :length, layout.gap])
            if spec.time.kind == "datetime" or spec.time.integer:
                gaps_i = np.maximum(np.rint(gaps_i), 1.0)
            gaps_i[0] = 0.0
            offsets = np.cumsum(gaps_i)
        times.append(starts[i] + offsets)
    calendar = calendar_offset(spec)
    if calendar is not None:  # a calendar frequency: the generated gaps, put on the calendar
        times = snap_times(calendar, times)
    return Decoded(ids=ids, static=static, times=times, columns=columns, missing=missing)
