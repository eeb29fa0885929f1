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
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from rnngan.core.calendar import calendar_columns, season_for_freq
from rnngan.core.manifest import StaticAttribute, file_sha256
from rnngan.core.tables.infer import infer_kind
from rnngan.core.tables.spec import NUMERIC, TableError, TimeSpec
from rnngan.core.tables.timecol import prepare_frame
from training.config import DataConfig
from training.data.forecast_covariates import (
    _check_future,
    _entity_covariates,
    _resolve_calendar,
    resolve_static,
)
from training.data.forecast_panel import (
    EntitySplit,
    TableForecastData,
    first_named,
)
from training.data.tables import read_user_table

log = logging.getLogger("rnngan.train")


def infer_season(
    step_seconds: float | None,
    kind: str | None,
    regular: bool,
    freq: str | None = None,
    day_rows: int = 0,
) -> int:
    """The seasonal period from the time column: from its pandas frequency when it has one
    (rnngan/core/calendar.py `season_for_freq`: 24 hourly, one day of steps for any sub-daily
    spacing that divides a day, e.g. 288 at 5 min, 7 daily, 5 business-daily, 52 weekly,
    12 monthly, 4 quarterly), else from the spacing: a timetable's rows a day (`day_rows`,
    `timetable_rows`: business hours, a market's session), 12 for 28-31 days; 1 (none)
    otherwise, or without a datetime column."""
    if kind != "datetime" or not step_seconds:
        return 1
    if freq:
        return season_for_freq(freq)
    if day_rows > 1:
        return day_rows
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


DAY = 86400.0
MOST_INSERTED = 0.2  # rows missing from a calendar filled in up to this share of the table
TIMETABLE_DAYS = 0.9  # a timetable: this share of its full days hold the same rows


def fill_missing_rows(
    frame: pd.DataFrame, id_column: str, spec: TimeSpec | None, blank: tuple[str, ...]
) -> tuple[pd.DataFrame, TimeSpec | None, list[tuple[str, int]]]:
    """Rows absent from a fixed spacing inserted: when the stamps are irregular only because
    rows are missing (every gap a whole number of the median spacing, at most
    `MOST_INSERTED` of the rows missing), each entity gets every step from its first to its
    last stamp; the `blank` columns (target, future columns) stay empty there, to be filled
    and never scored like any missing value, the others repeat the row before. The spec
    becomes regular with that spacing's frequency. Returns (frame, spec, [(id, rows
    inserted)])."""
    if spec is None or spec.kind != "datetime" or spec.regular or spec.freq:
        return frame, spec, []
    step = spec.step
    t = frame["__t"].to_numpy(dtype=np.float64)
    ids = frame[id_column].to_numpy()
    gaps = (t[1:] - t[:-1])[ids[1:] == ids[:-1]] / step
    whole = np.rint(gaps)
    missing = int((whole - 1).sum())
    if not np.allclose(gaps, whole, rtol=0, atol=1e-6) or missing > MOST_INSERTED * (
        len(frame) + missing
    ):
        return frame, spec, []
    ends = frame.groupby(id_column, sort=False)["__t"].agg(["first", "last", "size"])
    lengths = np.rint((ends["last"] - ends["first"]) / step).astype(np.int64).to_numpy() + 1
    steps = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    grid = pd.DataFrame(
        {
            id_column: np.repeat(ends.index.to_numpy(), lengths),
            "__t": np.repeat(ends["first"].to_numpy(), lengths) + step * steps,
        }
    )
    key = "__ms"
    frame = frame.assign(**{key: np.rint(t * 1000).astype(np.int64)}).drop(columns="__t")
    grid[key] = np.rint(grid["__t"].to_numpy() * 1000).astype(np.int64)
    full = grid.merge(frame, on=[id_column, key], how="left", validate="one_to_one")
    kept = [c for c in full.columns if c not in (id_column, "__t", key, *blank)]
    full[kept] = full.groupby(id_column, sort=False)[kept].ffill()
    full = full.drop(columns=key)[[*frame.columns.drop(key), "__t"]]
    inserted = (lengths - ends["size"]).astype(int)
    alias = to_offset(pd.Timedelta(seconds=step)).freqstr
    spec = spec.model_copy(
        update={"regular": True, "freq": alias, "log_gap_low": None, "log_gap_high": None}
    )
    return full, spec, [(str(k), int(n)) for k, n in inserted.items() if n]


def timetable_rows(frame: pd.DataFrame, id_column: str, spec: TimeSpec | None) -> int:
    """n when the stamps are a timetable: sub-daily, irregular only between days (nights,
    weekends: business hours, a market's session), each entity's full days holding the same
    n > 1 rows at the same n times of day (`TIMETABLE_DAYS` of them exactly n, none more; an
    entity's first and last day may be partial); 0 otherwise."""
    if spec is None or spec.kind != "datetime" or spec.regular or spec.freq or spec.step >= DAY:
        return 0
    t = frame["__t"].to_numpy(dtype=np.float64)
    counts = frame.groupby([frame[id_column], np.floor(t / DAY)], sort=False).size()
    entity = counts.groupby(level=0, sort=False)
    full = counts[(entity.cumcount() > 0) & (entity.cumcount(ascending=False) > 0)]
    if len(full) < 3:
        return 0
    n = int(full.mode().iloc[0])
    times = len(np.unique(np.rint(t % DAY)))
    if n < 2 or full.max() > n or (full == n).mean() < TIMETABLE_DAYS or times != n:
        return 0
    return n


def table_season(frame: pd.DataFrame, id_column: str, spec: TimeSpec | None) -> tuple[int, str]:
    """The season `infer_season` finds for a prepared table (`prepare_frame`, then
    `fill_missing_rows`), and how it was found."""
    if spec is None:
        return 1, "no time column"
    day_rows = timetable_rows(frame, id_column, spec)
    season = infer_season(spec.step, spec.kind, spec.regular, spec.freq, day_rows)
    if spec.freq:
        return season, f"the time column's frequency, {spec.freq}"
    if day_rows:
        return season, f"the time column's timetable: every day holds the same {day_rows} rows"
    return season, "the time column's spacing"


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
    frame, time_spec, inserted = fill_missing_rows(
        frame, str(d.id_col), time_spec, (d.target, *d.future_cols)
    )
    if inserted:
        log.warning(
            "%d of %d entities miss rows of their %s spacing: %d rows inserted as missing "
            "values (%s)",
            len(inserted),
            frame[d.id_col].nunique(),
            time_spec.freq if time_spec is not None else "",
            sum(n for _, n in inserted),
            first_named([f"{key}: {n}" for key, n in inserted]),
        )
    season = d.season
    if season <= 0:
        season, why = table_season(frame, str(d.id_col), time_spec)
        log.info("season %d (inferred from %s)", season, why)
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
            len(entities) + len(skipped),
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
