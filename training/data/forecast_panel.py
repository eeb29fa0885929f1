"""An own table's forecast panel in memory (loaded by training/data/table_forecast.py): each
entity's target values and its train / validation / test split (`EntitySplit`), and where the
forecast origins of a part go (`TableForecastData`): one every horizon rows, closer together
where a part would otherwise hold fewer than `FEW_WINDOWS` windows, none whose horizon holds a
target value missing in the table."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rnngan.core.manifest import StaticAttribute
from rnngan.core.tables.spec import TableError

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


def entity_count(n: int) -> str:
    """'1 entity', 'n entities'."""
    return "1 entity" if n == 1 else f"{n} entities"


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
