"""Forecasting a target column of the user's own long table (training/families/table_forecast.py;
reading the table: training/data/tables.py): the target column of each entity, from its first to
its last value (rows before or after, a series that starts late or ends early, are left out), gaps
filled by linear interpolation inside the entity (for training windows and histories; no validation
or test window whose horizon holds a filled value is scored), split by time: the first (1 −
val_share − test_share) rows train, the next val_share choose the checkpoint and fit the
calibration, the last test_share are reported. Forecast origins are every `horizon` rows inside the
validation and test parts (each sees only its own entity's history before it;
`data.short_histories`: from one season of it), closer together where a part would otherwise hold
fewer than 30 windows. Covariates: calendar features, known-future columns and static attributes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rnngan.core.calendar import calendar_columns, season_for_freq
from rnngan.core.manifest import StaticAttribute, file_sha256
from rnngan.core.tables.infer import infer_kind
from rnngan.core.tables.spec import NUMERIC, TableError
from rnngan.core.tables.timecol import prepare_frame
from training.config import DataConfig
from training.data.forecast_covariates import (
    _check_future,
    _entity_covariates,
    _resolve_calendar,
    resolve_static,
)
from training.data.tables import read_user_table

log = logging.getLogger("rnngan.train")

# Validation and test windows a part should hold before its origins may overlap
# (`TableForecastData.origin_stride`).
FEW_WINDOWS = 30


# --- forecasting a target column of the table ---


@dataclass(frozen=True)
class EntitySplit:
    values: np.ndarray  # (rows,) float32, gaps filled
    train_end: int
    val_end: int
    scale: float  # in-sample MAE of the seasonal naive on the train part
    name: str = ""  # the entity id
    covariates: np.ndarray | None = None  # (rows, K) float32: calendar, then future columns
    gaps: np.ndarray | None = None  # (rows,) bool: target missing in the table, filled (None: none)

    def observed_origins(self, origins: np.ndarray, horizon: int) -> np.ndarray:
        """The origins whose horizon holds no filled gap: the values a forecast is scored on
        are the table's, never interpolated ones."""
        if self.gaps is None:
            return origins
        filled = np.concatenate([[0], np.cumsum(self.gaps)])
        return origins[filled[origins + horizon] == filled[origins]]


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
    # `origin_stride` per (part, context, horizon), filled on first use
    _strides: dict[tuple[str, int, int], int] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

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

    def _spans(self, part: str, context: int) -> tuple[np.ndarray, np.ndarray]:
        """(first origin, end) of each entity's validation or test part: origins need `context`
        rows of history before them (`shortest` when set)."""
        least = min(self.shortest, context) if self.shortest else context
        if part == "validation":
            bounds = [(e.train_end, e.val_end) for e in self.entities]
        else:
            bounds = [(e.val_end, len(e.values)) for e in self.entities]
        starts, ends = np.asarray(bounds, dtype=np.int64).reshape(-1, 2).T
        return np.maximum(starts, least), ends

    def origin_stride(self, part: str, context: int, horizon: int) -> int:
        """Rows between two forecast origins of a part: the horizon (windows that do not
        overlap), or, where that leaves the whole part fewer than `FEW_WINDOWS` windows (one
        series of a few hundred rows, a handful of short ones), the largest stride that reaches
        that many, down to every row: a calibration and a verdict on one or two windows say
        little. Computed once per part."""
        key = (part, context, horizon)
        if key not in self._strides:
            self._strides[key] = next(
                (
                    stride
                    for stride in range(horizon, 1, -1)
                    if self.window_count(part, context, horizon, stride) >= FEW_WINDOWS
                ),
                1,
            )
        return self._strides[key]

    def window_count(self, part: str, context: int, horizon: int, stride: int) -> int:
        """How many windows a part holds with origins `stride` rows apart (with `stride` =
        `horizon`: how many of them do not overlap), less those over a filled gap."""
        if all(e.gaps is None for e in self.entities):
            return self._every_count(part, context, horizon, stride)
        return sum(len(o) for _, o in self._origins_every(part, context, horizon, stride))

    def _every_count(self, part: str, context: int, horizon: int, stride: int) -> int:
        """How many windows a part holds with origins `stride` rows apart, gaps or not."""
        first, ends = self._spans(part, context)
        room = ends - horizon - first
        return int(np.sum(room[room >= 0] // stride + 1))

    def _origins_every(
        self, part: str, context: int, horizon: int, stride: int
    ) -> list[tuple[EntitySplit, np.ndarray]]:
        """Each entity that keeps an origin, with its origins `stride` rows apart in the part,
        less those whose horizon holds a filled gap (`EntitySplit.observed_origins`)."""
        first, ends = self._spans(part, context)
        out = []
        for e, start, end in zip(self.entities, first, ends, strict=True):
            origins = e.observed_origins(np.arange(start, end - horizon + 1, stride), horizon)
            if len(origins):
                out.append((e, origins))
        return out

    def gap_windows(self, part: str, context: int, horizon: int, stride: int) -> int:
        """How many windows of the part, origins `stride` rows apart, were left out because
        their horizon holds a target value missing in the table."""
        every = self._every_count(part, context, horizon, stride)
        return every - self.window_count(part, context, horizon, stride)

    def gap_entities(self, part: str, context: int, horizon: int, stride: int) -> list[str]:
        """The entities whose every window of the part (origins `stride` rows apart) was left
        out over a missing target value: they are in no score of that part."""
        first, ends = self._spans(part, context)
        return [
            e.name
            for e, start, end in zip(self.entities, first, ends, strict=True)
            if e.gaps is not None
            and end - horizon >= start
            and not len(e.observed_origins(np.arange(start, end - horizon + 1, stride), horizon))
        ]

    def entity_origins(
        self, part: str, context: int, horizon: int
    ) -> list[tuple[EntitySplit, np.ndarray]]:
        """Each entity with its forecast origins in the validation or test part, one every
        `origin_stride` rows (the horizon unless the part would hold fewer than `FEW_WINDOWS`
        windows), each with `context` rows of history before it (`shortest` when set); a
        window whose horizon holds a target value missing in the table is left out."""
        stride = self.origin_stride(part, context, horizon)
        out = self._origins_every(part, context, horizon, stride)
        if not out:
            gaps = self.gap_windows(part, context, horizon, stride)
            raise TableError(
                f"no {part} window: the {part} part of each entity is shorter than the horizon "
                "or has too little history before it"
                + (
                    f", or its horizon holds a missing {self.target} value ({gaps} windows)"
                    if gaps
                    else ""
                )
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


def first_named(names: list[str], first: int = 10) -> str:
    """The first `first` names, comma-separated, then how many more: the entities an error or
    warning names (all of them would flood a few-thousand-entity panel's log)."""
    more = f" and {len(names) - first} more" if len(names) > first else ""
    return ", ".join(names[:first]) + more


def _window(
    rows: np.ndarray, origin: int, context: int, horizon: int, fill: float | None
) -> np.ndarray:
    """rows[origin - context : origin + horizon], padded on the left (`left_pad`) where the
    entity starts later than origin - context."""
    return left_pad(rows[max(0, origin - context) : origin + horizon], context + horizon, fill)


def left_pad(rows: np.ndarray, span: int, fill: float | None) -> np.ndarray:
    """`rows` (T, ...) padded on the left to `span` rows with `fill` (None: the first row
    repeated); unchanged when it has them."""
    missing = span - len(rows)
    if missing <= 0:
        return rows
    if fill is None:
        pad = np.repeat(rows[:1], missing, axis=0)
    else:
        pad = np.full((missing, *rows.shape[1:]), fill, dtype=rows.dtype)
    return np.concatenate([pad, rows])


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
    skipped: list[str] = []  # "<id> (why)"
    filled: list[tuple[str, int]] = []  # (id, missing target values filled)
    trimmed: list[tuple[str, int]] = []  # (id, rows before its first or after its last value)
    for key, entity in frame.groupby(str(d.id_col), sort=False):
        values = pd.to_numeric(entity[d.target], errors="coerce").to_numpy(dtype=np.float64)
        observed = np.flatnonzero(~np.isnan(values))
        if not len(observed):
            skipped.append(f"{key} (no {d.target} value)")
            continue
        if observed[0] or observed[-1] < len(values) - 1:
            # A series that starts later or ends earlier than the table (a long table on one
            # calendar for all): its rows run from its first to its last value, not a flat
            # run of a filled one.
            trimmed.append((str(key), len(values) - (observed[-1] + 1 - observed[0])))
            entity = entity.iloc[observed[0] : observed[-1] + 1]
            values = values[observed[0] : observed[-1] + 1]
        missing = np.isnan(values)
        values = pd.Series(values).interpolate(limit_direction="both").to_numpy()
        rows = len(values)
        train_end = int(round(rows * (1 - d.val_share - d.test_share)))
        val_end = int(round(rows * (1 - d.test_share)))
        train = values[:train_end]
        if len(train) <= season:
            skipped.append(f"{key} ({rows} rows: a train part of {len(train)} <= season {season})")
            continue
        scale = float(np.mean(np.abs(train[season:] - train[:-season])))
        covariates = None
        if calendar or future or static:
            covariates = _entity_covariates(entity, calendar, future, static, rows)
        gaps = missing if missing.any() else None
        if gaps is not None:
            filled.append((str(key), int(missing.sum())))
        entities.append(
            EntitySplit(
                values.astype(np.float32),
                train_end,
                val_end,
                scale or 1.0,
                str(key),
                covariates,
                gaps,
            )
        )
    if not entities:
        raise TableError(
            "no entity is long enough for its train part to span one season: "
            + first_named(skipped)
        )
    if skipped:
        # Named, so that a user can tell which of their series the model never saw.
        log.warning(
            "%d of %d entities skipped (not trained on, not evaluated): %s",
            len(skipped),
            len(skipped) + len(entities),
            first_named(skipped),
        )
    if trimmed:
        log.warning(
            "%d of %d entities start later or end earlier than the table: their %d rows before "
            "the first or after the last %s value are left out (%s)",
            len(trimmed),
            len(entities),
            sum(n for _, n in trimmed),
            d.target,
            first_named([f"{key}: {n}" for key, n in trimmed]),
        )
    if filled:
        log.warning(
            "%d missing %s values in %d of %d entities (%s) filled by linear interpolation for "
            "training and histories; no validation or test window is scored on a filled value",
            sum(n for _, n in filled),
            d.target,
            len(filled),
            len(entities),
            first_named([f"{key}: {n}" for key, n in filled]),
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
