"""The covariates of a table forecast (training/data/table_forecast.py): calendar features
resolved from the time column, known-future columns, static attributes (one value per entity:
one-hot per category or a standardised number), each entity's covariate rows and their
statistics over the train parts."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from rnngan.core.calendar import auto_calendar, calendar_values
from rnngan.core.manifest import StaticAttribute
from rnngan.core.tables.infer import infer_kind
from rnngan.core.tables.spec import _TRUE, MAX_CATEGORIES, NUMERIC, TableError, TimeSpec
from training.config import DataConfig

log = logging.getLogger("rnngan.train")


# --- covariates of a table forecast: calendar features and known-future columns ---


def _resolve_calendar(d: DataConfig, time_spec: TimeSpec | None) -> tuple[str, ...]:
    """`data.calendar` with "auto" resolved from the time column's frequency."""
    if not d.calendar:
        return ()
    if time_spec is None or time_spec.kind != "datetime":
        raise TableError("calendar features need a date-time time column (--time-col)")
    if tuple(d.calendar) != ("auto",):
        names = tuple(d.calendar)
    else:
        names = auto_calendar(time_spec.freq)
        if not names:
            freq = time_spec.freq or "none inferred"
            raise TableError(
                f"no calendar feature varies at this table's frequency ({freq}); name them "
                "(hour, weekday, month, yearday) or drop --calendar"
            )
    if not time_spec.freq:
        raise TableError(
            "calendar features need a time column with a frequency (regular, or a calendar one "
            "such as monthly or business-daily) to step the forecast's timestamps by; this one "
            "has none"
        )
    log.info("calendar features: %s", ", ".join(names))
    return names


def _check_future(frame: pd.DataFrame, d: DataConfig) -> tuple[str, ...]:
    for column in d.future_cols:
        if column not in frame.columns:
            raise TableError(
                f"future column '{column}' is not in the table; columns: {list(frame.columns)}"
            )
        if column in (d.id_col, d.time_col, d.target):
            raise TableError(f"future column '{column}' is the id, time or target column")
        if infer_kind(frame[column]) not in (*NUMERIC, "boolean"):
            raise TableError(f"future column '{column}' must be numeric or boolean")
    return tuple(d.future_cols)


def resolve_static(frame: pd.DataFrame, d: DataConfig) -> tuple[StaticAttribute, ...]:
    """The static attributes `data.static_cols` names ("auto": the columns the table spec
    infers static: constant within each entity, no gaps, a discrete kind, more than one
    entity), each categorical (one-hot: text and booleans, or `--types col=categorical`) or
    numeric. A checkpoint's config holds the channels resolved in training
    (`data.static_channels`): those are kept, so its categories do not move."""
    if not d.static_cols:
        return ()
    excluded = {d.id_col, d.time_col, d.target, *d.future_cols, "__t"}
    names = [c for c in frame.columns if c not in excluded]
    groups = frame.groupby(str(d.id_col), sort=False)
    if tuple(d.static_cols) == ("auto",):
        constant = [n for n in names if _is_static(frame, groups, n)]
        kinds = {n: infer_kind(frame[n]) for n in constant}
        chosen = [
            n
            for n in constant
            if groups.ngroups > 1 and kinds[n] in ("categorical", "boolean", "integer", "count")
        ]
        if not chosen:
            raise TableError(
                "no static attribute found (a column constant within each entity, of a discrete "
                "kind); name them with --static-cols, or drop it"
            )
    else:
        chosen = list(d.static_cols)
        for name in chosen:
            if name not in frame.columns:
                raise TableError(
                    f"static column '{name}' is not in the table; columns: {list(frame.columns)}"
                )
            if name in excluded:
                raise TableError(
                    f"static column '{name}' is the id, time, target or a future column"
                )
            if not _is_static(frame, groups, name):
                raise TableError(
                    f"static column '{name}' changes within an entity (or has gaps); a static "
                    "column holds one value per entity"
                )
    overrides = _type_overrides(d.types)
    resolved = _resolved_static(d.static_channels)
    out = []
    for name in chosen:
        if "=" in name:
            raise TableError(f"static column '{name}': a name with '=' cannot be an attribute")
        if name in resolved:  # as trained: the checkpoint's channels
            labels = resolved[name]
            kind = "categorical" if labels else "numeric"
            out.append(StaticAttribute(name=name, kind=kind, categories=labels or None))
            continue
        kind = overrides.get(name) or infer_kind(frame[name])
        if kind in ("categorical", "boolean"):
            labels = sorted({_static_label(v, kind) for v in groups[name].first()})
            if len(labels) > MAX_CATEGORIES and tuple(d.static_cols) == ("auto",):
                log.warning("static column '%s' skipped: %d values (an id?)", name, len(labels))
                continue
            if len(labels) > MAX_CATEGORIES:
                raise TableError(
                    f"static column '{name}' has {len(labels)} values (more than "
                    f"{MAX_CATEGORIES}): an id? Leave it out of --static-cols"
                )
            out.append(StaticAttribute(name=name, kind="categorical", categories=labels))
        else:
            values = pd.to_numeric(frame[name], errors="coerce")
            if values.isna().any():
                raise TableError(f"static column '{name}' must be numeric, boolean or text")
            out.append(StaticAttribute(name=name, kind="numeric"))
    log.info(
        "static attributes: %s",
        ", ".join(f"{a.name} ({a.kind}, {len(a.channels)} channels)" for a in out),
    )
    return tuple(out)


def _is_static(frame: pd.DataFrame, groups: object, name: str) -> bool:
    return bool(
        frame[name].notna().all() and (groups[name].nunique(dropna=False) <= 1).all()  # type: ignore[index]
    )


def _type_overrides(types: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in types:
        name, sep, kind = item.partition("=")
        if sep:
            out[name.strip()] = kind.strip()
    return out


def _resolved_static(channels: tuple[str, ...]) -> dict[str, list[str]]:
    """{column: its labels (categorical) or [] (numeric)} from `data.static_channels`."""
    out: dict[str, list[str]] = {}
    for channel in channels:
        name, sep, label = channel.partition("=")
        out.setdefault(name, [])
        if sep:
            out[name].append(label)
    return out


def _static_label(value: object, kind: str) -> str:
    """A categorical attribute's label as the manifest and the request name it: text as is,
    booleans "true" / "false", whole numbers without a decimal point."""
    if kind == "boolean":
        return "true" if str(value).strip().lower() in _TRUE else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _entity_covariates(
    entity: pd.DataFrame,
    calendar: tuple[str, ...],
    future: tuple[str, ...],
    static: tuple[StaticAttribute, ...] = (),
    rows: int | None = None,
) -> np.ndarray:
    """(rows, K) float32: the calendar columns of its stamps, then each future column (gaps
    filled by interpolation inside the entity; an entity without any value gets 0), then the
    static attributes' channels, constant (a one-hot of its label; a numeric value as is)."""
    parts = []
    if calendar:
        parts.append(calendar_values(entity["__t"].to_numpy(dtype=np.float64), calendar))
    for column in future:
        raw = entity[column]
        if raw.dtype == bool or raw.dtype == object:
            raw = raw.map(lambda v: {"true": 1.0, "false": 0.0}.get(str(v).strip().lower(), v))
        values = pd.to_numeric(raw, errors="coerce").astype(np.float64)
        values = values.interpolate(limit_direction="both").fillna(0.0)
        parts.append(values.to_numpy()[:, None])
    n = len(entity) if rows is None else rows
    for attribute in static:
        value = entity[attribute.name].iloc[0]
        if attribute.kind == "categorical":
            kind = "boolean" if attribute.categories == ["false", "true"] else "categorical"
            label = _static_label(value, kind)
            onehot = np.array([label == c for c in attribute.categories or []], dtype=np.float64)
            parts.append(np.tile(onehot, (n, 1)))
        else:
            parts.append(np.full((n, 1), float(value)))
    return np.concatenate(parts, axis=1).astype(np.float32)
