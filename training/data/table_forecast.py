"""Forecasting a target column of the user's own long table (training/families/table_forecast.py;
reading the table: training/data/tables.py): the target column of each entity, from its first to
its last value (rows before or after, a series that starts late or ends early, are left out; rows
missing from an even spacing inserted, training/data/forecast_calendar.py), gaps filled by
linear interpolation inside the entity (for training windows and histories; no validation
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

from rnngan.core.calendar import calendar_columns
from rnngan.core.manifest import StaticAttribute, file_sha256
from rnngan.core.tables.infer import infer_kind
from rnngan.core.tables.spec import NUMERIC, TableError
from rnngan.core.tables.timecol import prepare_frame
from training.config import DataConfig
from training.data.forecast_calendar import fill_missing_rows, table_season
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


def load_table_forecast(d: DataConfig) -> TableForecastData:
    """`d.season` 0: inferred from the time column (training/data/forecast_calendar.py
    `table_season`, after `fill_missing_rows`)."""
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
            "%d rows missing from the time column's '%s' spacing inserted as missing values "
            "in %d of %d entities (%s)",
            sum(n for _, n in inserted),
            time_spec.freq if time_spec is not None else "",
            len(inserted),
            frame[d.id_col].nunique(),
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
