"""Forecasting a target column of the user's own long table (`task = "forecast"`,
`data.dataset = "table"`, `data.target`).

One ForGAN-class model (training/networks.py) learns from every entity at once: each history is
standardised by its own mean and std inside the graph, so entities of any level share it.
Each entity's rows are split by time: the first (1 − val_share − test_share) train, the next
val_share choose the checkpoint and fit the calibration, the last test_share are reported.
Forecast origins are every `horizon` rows inside the validation and test parts (each sees only
its own entity's history before it). Gaps in the target are filled by linear interpolation
inside the entity before windows are cut. Scores are per window relative to that entity's
seasonal-naive scale (MASE, CRPS), so entities of different size weigh the same.
statsforecast baselines (`eval.baselines`, AutoETS by default) are fit per entity on the same
windows. Other columns are not used as covariates (not built yet).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from torch import nn

from rnngan.core.manifest import Calibration, file_sha256
from rnngan.core.tables.infer import infer_kind, prepare_frame
from rnngan.core.tables.spec import NUMERIC, TableError
from training.config import RunConfig
from training.forecast_eval import (
    LEVELS,
    fit_spread_scale,
    gan_paths,
    score,
    score_paths_scaled,
    statsforecast_quantiles,
)
from training.table import read_user_table

log = logging.getLogger("rnngan.train")


@dataclass(frozen=True)
class EntitySplit:
    values: np.ndarray  # (rows,) float32, gaps filled
    train_end: int
    val_end: int
    scale: float  # in-sample MAE of the seasonal naive on the train part


@dataclass(frozen=True)
class TableForecastData:
    entities: list[EntitySplit]
    target: str
    freq: str | None
    source: str
    sha256: str

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
        `horizon` rows, each with `context` rows of history before it."""
        out = []
        for e in self.entities:
            if part == "validation":
                start, end = e.train_end, e.val_end
            else:
                start, end = e.val_end, len(e.values)
            origins = np.arange(max(start, context), end - horizon + 1, horizon)
            if len(origins):
                out.append((e, origins))
        if not out:
            raise TableError(
                f"no {part} window: the {part} part of each entity is shorter than the horizon "
                "or has too little history before it"
            )
        return out

    def origins(
        self, part: str, context: int, horizon: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(histories (N, context), truths (N, horizon), scales (N,)) over every entity."""
        hist, truth, scales = [], [], []
        for e, origins in self.entity_origins(part, context, horizon):
            for origin in origins:
                hist.append(e.values[origin - context : origin])
                truth.append(e.values[origin : origin + horizon])
                scales.append(e.scale)
        return (
            np.stack(hist).astype(np.float32),
            np.stack(truth).astype(np.float32),
            np.asarray(scales, dtype=np.float64),
        )


def load_table_forecast(config: RunConfig) -> TableForecastData:
    d = config.data
    frame = read_user_table(str(d.path))
    for column in [d.id_col, d.target] + ([d.time_col] if d.time_col else []):
        if column not in frame.columns:
            raise TableError(
                f"column '{column}' is not in the table; columns: {list(frame.columns)}"
            )
    if infer_kind(frame[d.target]) not in NUMERIC:
        raise TableError(f"the target '{d.target}' must be numeric to be forecast")
    frame, time_spec = prepare_frame(frame, str(d.id_col), d.time_col)
    entities = []
    skipped = 0
    for _, entity in frame.groupby(str(d.id_col), sort=False):
        values = pd.to_numeric(entity[d.target], errors="coerce").to_numpy(dtype=np.float64)
        if np.isnan(values).all():
            skipped += 1
            continue
        values = pd.Series(values).interpolate(limit_direction="both").to_numpy()
        rows = len(values)
        train_end = int(round(rows * (1 - d.val_share - d.test_share)))
        val_end = int(round(rows * (1 - d.test_share)))
        train = values[:train_end]
        if len(train) <= d.season:
            skipped += 1
            continue
        scale = float(np.mean(np.abs(train[d.season :] - train[: -d.season])))
        entities.append(EntitySplit(values.astype(np.float32), train_end, val_end, scale or 1.0))
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
    )


def statsforecast_scores(
    data: TableForecastData, part: str, config: RunConfig
) -> dict[str, dict[str, float]]:
    """statsforecast baselines on the same windows, one fit per entity (refit=False)."""
    d, e = config.data, config.eval
    out: dict[str, dict[str, float]] = {}
    for name in e.baselines:
        qs, truths, points = [], [], []
        for entity, origins in data.entity_origins(part, d.context_len, d.horizon):
            truth = np.stack([entity.values[o : o + d.horizon] for o in origins])
            quantiles, point = statsforecast_quantiles(
                entity.values, origins, d.horizon, d.season, name, e.baseline_input_size, truth
            )
            qs.append(quantiles / entity.scale)
            points.append(point / entity.scale)
            truths.append(truth / entity.scale)
        out[name] = score(
            np.concatenate(truths), np.concatenate(qs, axis=1), np.concatenate(points), 1.0
        )
    return out


def seasonal_naive_scores(
    data: TableForecastData, part: str, context: int, horizon: int, season: int
) -> dict[str, float]:
    hist, truth, scales = data.origins(part, context, horizon)
    if season > context:
        raise TableError("season must not exceed context_len")
    last = hist[:, -season:]
    point = np.stack([np.resize(row, horizon) for row in last])
    s = scales[:, None]
    quantiles = np.repeat((point / s)[None], len(LEVELS), axis=0)
    return score(truth / s, quantiles, point / s, 1.0)


def table_forecast_extra(data: TableForecastData, n_windows: int) -> dict[str, Any]:
    return {
        "features": [data.target],
        "freq": data.freq,
        "dataset": {
            "name": Path(data.source).stem,
            "source": data.source,
            "sha256": data.sha256,
            "columns": [data.target],
            "n_windows": n_windows,
        },
    }


def evaluate_table_forecast(config: RunConfig, graph: nn.Module) -> dict[str, Any]:
    data = load_table_forecast(config)
    d, e = config.data, config.eval
    latent = config.model.latent_dim
    val_hist, val_truth, val_scales = data.origins("validation", d.context_len, d.horizon)
    test_hist, test_truth, test_scales = data.origins("test", d.context_len, d.horizon)
    val_paths = gan_paths(graph, val_hist, d.horizon, latent, e.num_samples, config.seed)
    test_paths = gan_paths(graph, test_hist, d.horizon, latent, e.num_samples, config.seed + 1)
    metrics: dict[str, Any] = {}
    raw = score_paths_scaled(test_paths, test_truth, test_scales)
    gan = raw
    if e.calibrate:
        s = val_scales[:, None]
        factor = fit_spread_scale(val_paths / s[:, None], val_truth / s, 1.0)
        calibration = Calibration(
            spread_scale=factor,
            fit_on=f"the validation part ({d.val_share:.0%}) of every entity, rolling origin",
        )
        metrics["calibration"] = calibration.model_dump()
        gan = score_paths_scaled(calibration.apply(test_paths), test_truth, test_scales)
    test = {
        "gan": gan,
        "gan_uncalibrated": raw,
        "seasonal_naive": seasonal_naive_scores(data, "test", d.context_len, d.horizon, d.season),
        **statsforecast_scores(data, "test", config),
    }
    return {
        **metrics,
        "protocol": f"each entity split by time ({1 - d.val_share - d.test_share:.0%} train, "
        f"{d.val_share:.0%} validation, {d.test_share:.0%} test), rolling origin every "
        f"{d.horizon} rows over each test part, horizon {d.horizon}, context {d.context_len}, "
        f"season {d.season}, {e.num_samples} sample paths; MASE and CRPS per window in units "
        "of its entity's seasonal-naive scale",
        "entities": len(data.entities),
        "n_windows": len(test_hist),
        "test": test,
        "validation": {"gan_uncalibrated": score_paths_scaled(val_paths, val_truth, val_scales)},
        **{f"test_{k}": v for k, v in gan.items()},
    }
