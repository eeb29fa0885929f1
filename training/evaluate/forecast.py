"""Forecast evaluation (PROTOCOL.md §3): rolling origin over the test rows, a forecast every
`horizon` rows, each seeing only the history before it. The GAN, seasonal naive and
statsforecast's AutoETS are scored on the same windows in the same run (scores in
training/evaluate/scores.py).

- One built-in series (`evaluate_forecast`): validation rows fit the calibration, test rows are
  scored once, in units of the series' seasonal-naive scale.
- A target column of the user's own table (`evaluate_table_forecast`): every entity's
  validation and test parts (training/data/tables.py), each window in units of its entity's
  seasonal-naive scale, so entities of different size weigh the same; statsforecast baselines
  are fit per entity on the same windows.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
from torch import nn

from rnngan.core.manifest import Calibration
from rnngan.core.tables.spec import TableError
from training.config import RunConfig
from training.data.series import ForecastData, load_forecast
from training.data.tables import TableForecastData, load_table_forecast
from training.evaluate.scores import (
    LEVELS,
    fit_spread_scale,
    gan_paths,
    score,
    score_paths,
    score_paths_scaled,
    seasonal_scale,
    statsforecast_quantiles,
)

log = logging.getLogger("rnngan.evaluate")


def rolling_windows(
    data: ForecastData, start: int, end: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    c, h = data.config.context_len, data.config.horizon
    origins = data.origins(start, end)
    histories = np.stack([data.series[o - c : o] for o in origins])
    truth = np.stack([data.series[o : o + h] for o in origins])
    return origins, histories, truth


def score_seasonal_naive(
    data: ForecastData, start: int, end: int, scale: float
) -> dict[str, float]:
    """A point forecast: every quantile is the value one season earlier."""
    origins, _, truth = rolling_windows(data, start, end)
    s, h = data.config.season, data.config.horizon
    point = np.stack(
        [
            np.resize(data.series[o - s : o], h) if s < h else data.series[o - s : o - s + h]
            for o in origins
        ]
    )
    return score(truth, np.repeat(point[None], len(LEVELS), axis=0), point, scale)


def score_statsforecast(
    data: ForecastData,
    start: int,
    end: int,
    scale: float,
    models: tuple[str, ...],
    input_size: int,
) -> dict[str, dict[str, float]]:
    """statsforecast models on the same windows as the GAN (see `statsforecast_quantiles`)."""
    origins, _, truth = rolling_windows(data, start, end)
    h = data.config.horizon
    out = {}
    for name in models:
        started = time.perf_counter()
        quantiles, point = statsforecast_quantiles(
            data.series, origins, h, data.config.season, name, input_size, truth
        )
        out[name] = score(truth, quantiles, point, scale)
        log.info("%s on %d windows in %.1fs", name, len(origins), time.perf_counter() - started)
    return out


def evaluate_forecast(config: RunConfig, graph: nn.Module) -> dict[str, Any]:
    """Validation fits the calibration; the test split is scored once, beside the baselines."""
    data = load_forecast(config.data)
    d, e = config.data, config.eval
    scale = seasonal_scale(data.train, d.season)
    latent = config.model.latent_dim

    _, val_hist, val_truth = rolling_windows(data, d.train_end, d.val_end)
    val_paths = gan_paths(graph, val_hist, d.horizon, latent, e.num_samples, config.seed)
    _, test_hist, test_truth = rolling_windows(data, d.val_end, d.test_end)
    test_paths = gan_paths(graph, test_hist, d.horizon, latent, e.num_samples, config.seed + 1)

    metrics: dict[str, Any] = {}
    raw = score_paths(test_paths, test_truth, scale)
    gan = raw
    if e.calibrate:
        calibration = Calibration(
            spread_scale=fit_spread_scale(val_paths, val_truth, scale),
            fit_on=f"validation rows [{d.train_end}, {d.val_end}), rolling origin: the factor "
            f"in 0.5 … 2.0 whose 80 % interval coverage is closest to 0.80",
        )
        metrics["calibration"] = calibration.model_dump()
        gan = score_paths(calibration.apply(test_paths), test_truth, scale)
    test = {
        "gan": gan,
        "gan_uncalibrated": raw,
        "seasonal_naive": score_seasonal_naive(data, d.val_end, d.test_end, scale),
        **score_statsforecast(
            data, d.val_end, d.test_end, scale, e.baselines, e.baseline_input_size
        ),
    }
    return {
        **metrics,
        "protocol": f"rolling origin every {d.horizon} rows over test rows [{d.val_end}, "
        f"{d.test_end}), horizon {d.horizon}, context {d.context_len}, "
        f"season {d.season}, {e.num_samples} sample paths",
        "n_windows": len(test_hist),
        "scale": scale,
        "test": test,
        "validation": {"gan_uncalibrated": score_paths(val_paths, val_truth, scale)},
        **{f"test_{k}": v for k, v in gan.items()},
    }


# --- a target column of the own table ---


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


def evaluate_table_forecast(config: RunConfig, graph: nn.Module) -> dict[str, Any]:
    data = load_table_forecast(config.data)
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
