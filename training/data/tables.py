"""The user's own long table (`data.dataset = "table"`), one row per (entity, time): reading it,
and cutting it into what each own-table family trains on.

- Generation (training/families/table_gan.py): each entity becomes a (T, D) array of model
  channels (rnngan/core/tables/codec.py) and a static condition vector. Training windows are
  `seq_len` steps at `stride` from every entity; an entity shorter than `seq_len` is one window,
  zero-padded, with a mask of its real steps. `seq_len = 0` (the default of `rnngan train
  --data`) picks the longest entity's length up to AUTO_SEQ_LEN.
- Forecasting (training/families/table_forecast.py): the target column of each entity, gaps
  filled by linear interpolation inside the entity, split by time: the first
  (1 − val_share − test_share) rows train, the next val_share choose the checkpoint and fit the
  calibration, the last test_share are reported. Forecast origins are every `horizon` rows inside
  the validation and test parts (each sees only its own entity's history before it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rnngan.core.calendar import auto_calendar, calendar_columns, calendar_values, season_for_freq
from rnngan.core.manifest import StaticAttribute, file_sha256
from rnngan.core.tables.codec import encode_entities
from rnngan.core.tables.infer import infer_kind, infer_spec
from rnngan.core.tables.spec import _TRUE, MAX_CATEGORIES, NUMERIC, TableError, TableSpec, TimeSpec
from rnngan.core.tables.timecol import prepare_frame
from training.config import DataConfig

log = logging.getLogger("rnngan.train")

AUTO_SEQ_LEN = 96


def read_user_table(path: str | Path) -> pd.DataFrame:
    """A CSV or Parquet file as a frame."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file {path} not found")
    suffix = "".join(path.suffixes[-2:]).lower()
    if suffix.endswith((".parquet", ".pq")):
        return pd.read_parquet(path)
    if suffix.endswith((".csv", ".csv.gz", ".txt")):
        return pd.read_csv(path)
    raise TableError(f"{path.name}: expected a .csv, .csv.gz or .parquet file")


def spec_from_config(config: DataConfig) -> tuple[TableSpec, pd.DataFrame]:
    frame = read_user_table(str(config.path))
    return infer_spec(
        frame,
        id_column=str(config.id_col),
        time_column=config.time_col,
        static=config.static,
        types=config.types,
        bounds=config.bounds,
        columns=config.columns,
    )


@dataclass(frozen=True)
class TableData:
    spec: TableSpec
    frame: pd.DataFrame  # sorted by (entity, time), with the parsed time in `__t`
    entities: list[tuple[np.ndarray, np.ndarray]]  # per entity: (T, D) channels, (C,) condition
    seq_len: int  # the window length trained on (resolved when the config says 0)
    windows: np.ndarray  # (N, seq_len, D), zero-padded
    valid: np.ndarray  # (N, seq_len) 1 on real steps
    conditions: np.ndarray  # (N, C)
    source: str
    sha256: str


def make_windows(
    entities: list[tuple[np.ndarray, np.ndarray]], seq_len: int, stride: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    windows, valid, conditions = [], [], []
    for x, cond in entities:
        length, width = x.shape
        if length >= seq_len:
            for start in range(0, length - seq_len + 1, stride):
                windows.append(x[start : start + seq_len])
                valid.append(np.ones(seq_len, dtype=np.float32))
                conditions.append(cond)
        else:
            padded = np.zeros((seq_len, width), dtype=np.float32)
            padded[:length] = x
            mask = np.zeros(seq_len, dtype=np.float32)
            mask[:length] = 1.0
            windows.append(padded)
            valid.append(mask)
            conditions.append(cond)
    return (
        np.stack(windows).astype(np.float32),
        np.stack(valid).astype(np.float32),
        np.stack(conditions).astype(np.float32),
    )


def load_table(config: DataConfig) -> TableData:
    spec, frame = spec_from_config(config)
    entities = encode_entities(spec, frame)
    seq_len = config.seq_len or min(max(spec.length_values), AUTO_SEQ_LEN)
    windows, valid, conditions = make_windows(entities, seq_len, config.stride)
    path = Path(str(config.path))
    return TableData(
        spec, frame, entities, seq_len, windows, valid, conditions, path.name, file_sha256(path)
    )


# --- forecasting a target column of the table ---


@dataclass(frozen=True)
class EntitySplit:
    values: np.ndarray  # (rows,) float32, gaps filled
    train_end: int
    val_end: int
    scale: float  # in-sample MAE of the seasonal naive on the train part
    name: str = ""  # the entity id
    covariates: np.ndarray | None = None  # (rows, K) float32: calendar, then future columns


@dataclass(frozen=True)
class TableForecastData:
    entities: list[EntitySplit]
    target: str
    freq: str | None
    source: str
    sha256: str
    season: int = 24  # the config's, or inferred from the time column (`infer_season`)
    calendar: tuple[str, ...] = ()  # calendar features (resolved from "auto")
    future: tuple[str, ...] = ()  # known-future columns
    # per covariate channel: mean and std over the train parts (calendar channels: 0 and 1)
    covariate_stats: tuple[np.ndarray, np.ndarray] | None = None
    static: tuple[StaticAttribute, ...] = ()  # static attributes, channels after the future ones
    # `data.short_histories`: forecast origins need only this many rows before them (one
    # season); a shorter history than the context is NaN-padded on the left (0: the context)
    shortest: int = 0

    @property
    def static_channels(self) -> tuple[str, ...]:
        return tuple(c for a in self.static for c in a.channels)

    def train_windows(self, span: int) -> np.ndarray:
        parts = []
        for e in self.entities:
            train = e.values[: e.train_end]
            if len(train) >= span:
                view = np.lib.stride_tricks.sliding_window_view(train, span)
                parts.append(view)
        if not parts:
            raise TableError(
                f"no entity has {span} training rows (context_len + horizon); lower them"
            )
        return np.ascontiguousarray(np.concatenate(parts)).astype(np.float32)

    def entity_origins(
        self, part: str, context: int, horizon: int
    ) -> list[tuple[EntitySplit, np.ndarray]]:
        """Each entity with its forecast origins in the validation or test part, one every
        `horizon` rows, each with `context` rows of history before it (`shortest` when set)."""
        least = min(self.shortest, context) if self.shortest else context
        out = []
        for e in self.entities:
            if part == "validation":
                start, end = e.train_end, e.val_end
            else:
                start, end = e.val_end, len(e.values)
            origins = np.arange(max(start, least), end - horizon + 1, horizon)
            if len(origins):
                out.append((e, origins))
        if not out:
            raise TableError(
                f"no {part} window: the {part} part of each entity is shorter than the horizon "
                "or has too little history before it"
            )
        return out

    def origin_covariates(self, part: str, context: int, horizon: int) -> np.ndarray | None:
        """(N, context + horizon, K) covariates of the windows `origins` returns (None without
        covariates); a short history's are padded with its first row."""
        if self.covariate_stats is None:
            return None
        rows = []
        for e, origins in self.entity_origins(part, context, horizon):
            assert e.covariates is not None
            rows += [_window(e.covariates, o, context, horizon, None) for o in origins]
        return np.stack(rows).astype(np.float32)

    def origins(
        self, part: str, context: int, horizon: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(histories (N, context), truths (N, horizon), scales (N,)) over every entity; a
        history shorter than `context` (`shortest`) starts with NaN."""
        hist, truth, scales = [], [], []
        for e, origins in self.entity_origins(part, context, horizon):
            for origin in origins:
                hist.append(_window(e.values, origin, context, 0, np.nan))
                truth.append(e.values[origin : origin + horizon])
                scales.append(e.scale)
        return (
            np.stack(hist).astype(np.float32),
            np.stack(truth).astype(np.float32),
            np.asarray(scales, dtype=np.float64),
        )


def _window(
    rows: np.ndarray, origin: int, context: int, horizon: int, fill: float | None
) -> np.ndarray:
    """rows[origin - context : origin + horizon], padded on the left with `fill` (None: the
    first row) where the entity starts later than origin - context."""
    window = rows[max(0, origin - context) : origin + horizon]
    missing = context + horizon - len(window)
    if missing <= 0:
        return window
    if fill is None:
        pad = np.repeat(window[:1], missing, axis=0)
    else:
        pad = np.full((missing, *window.shape[1:]), fill, dtype=window.dtype)
    return np.concatenate([pad, window])


def infer_season(
    step_seconds: float | None, kind: str | None, regular: bool, freq: str | None = None
) -> int:
    """The seasonal period from the time column: from its pandas frequency when it has one
    (rnngan/core/calendar.py `season_for_freq`: 24 hourly, one day of steps for any sub-daily
    spacing that divides a day, e.g. 288 at 5 min, 7 daily, 5 business-daily, 52 weekly,
    12 monthly, 4 quarterly), else from the spacing: 12 for 28-31 days; 1 (none) otherwise, or
    without a datetime column."""
    if kind != "datetime" or not step_seconds:
        return 1
    if freq:
        return season_for_freq(freq)
    day = 86400.0
    if regular and step_seconds < day and day % step_seconds == 0:
        return int(day // step_seconds)
    if regular and step_seconds == day:
        return 7
    if regular and step_seconds == 7 * day:
        return 52
    if 28 * day <= step_seconds <= 31 * day:
        return 12
    return 1


def load_table_forecast(d: DataConfig) -> TableForecastData:
    """`d.season` 0: inferred from the time column (`infer_season`)."""
    frame = read_user_table(str(d.path))
    for column in [d.id_col, d.target] + ([d.time_col] if d.time_col else []):
        if column not in frame.columns:
            raise TableError(
                f"column '{column}' is not in the table; columns: {list(frame.columns)}"
            )
    if infer_kind(frame[d.target]) not in NUMERIC:
        raise TableError(f"the target '{d.target}' must be numeric to be forecast")
    frame, time_spec = prepare_frame(frame, str(d.id_col), d.time_col)
    season = d.season
    if season <= 0:
        season = (
            infer_season(time_spec.step, time_spec.kind, time_spec.regular, time_spec.freq)
            if time_spec is not None
            else 1
        )
        log.info("season %d (inferred from the time column's spacing)", season)
    calendar = _resolve_calendar(d, time_spec)
    future = _check_future(frame, d)
    static = resolve_static(frame, d)
    entities = []
    skipped = 0
    for key, entity in frame.groupby(str(d.id_col), sort=False):
        values = pd.to_numeric(entity[d.target], errors="coerce").to_numpy(dtype=np.float64)
        if np.isnan(values).all():
            skipped += 1
            continue
        values = pd.Series(values).interpolate(limit_direction="both").to_numpy()
        rows = len(values)
        train_end = int(round(rows * (1 - d.val_share - d.test_share)))
        val_end = int(round(rows * (1 - d.test_share)))
        train = values[:train_end]
        if len(train) <= season:
            skipped += 1
            continue
        scale = float(np.mean(np.abs(train[season:] - train[:-season])))
        covariates = None
        if calendar or future or static:
            covariates = _entity_covariates(entity, calendar, future, static, rows)
        entities.append(
            EntitySplit(
                values.astype(np.float32), train_end, val_end, scale or 1.0, str(key), covariates
            )
        )
    if not entities:
        raise TableError("no entity is long enough for its train part to span one season")
    if skipped:
        log.warning(
            "%d entities skipped: empty target or train part shorter than a season", skipped
        )
    path = Path(str(d.path))
    return TableForecastData(
        entities,
        d.target,
        time_spec.freq if time_spec is not None else d.freq,
        path.name,
        file_sha256(path),
        season,
        calendar,
        future,
        _covariate_stats(entities, len(calendar_columns(calendar)), static)
        if calendar or future or static
        else None,
        static,
        season if d.short_histories else 0,
    )


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


def _covariate_stats(
    entities: list[EntitySplit], n_calendar: int, static: tuple[StaticAttribute, ...] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of each covariate channel over the train parts (calendar channels stay
    as they are: 0 and 1); what the graph standardises the covariates with. Static channels:
    one-hots stay 0/1; a numeric attribute is standardised over the entities (each once)."""
    train = np.concatenate(
        [e.covariates[: e.train_end] for e in entities if e.covariates is not None]
    )
    mean = train.mean(axis=0).astype(np.float64)
    std = train.std(axis=0).astype(np.float64)
    mean[:n_calendar], std[:n_calendar] = 0.0, 1.0
    at = train.shape[1] - sum(len(a.channels) for a in static)
    for attribute in static:
        width = len(attribute.channels)
        if attribute.kind == "categorical":
            mean[at : at + width], std[at : at + width] = 0.0, 1.0
        else:
            per_entity = np.array(
                [e.covariates[0, at] for e in entities if e.covariates is not None]
            )
            mean[at], std[at] = per_entity.mean(), per_entity.std()
        at += width
    std = np.where(std > 1e-12, std, 1.0)
    return mean.astype(np.float32), std.astype(np.float32)
