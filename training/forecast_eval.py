"""Forecast evaluation (PROTOCOL.md §3): rolling origin over the test rows, a forecast every
`horizon` rows, each seeing only the history before it. The GAN, seasonal naive and
statsforecast's AutoETS are scored on the same windows in the same run.

Metrics: MASE (scale = in-sample MAE of the seasonal naive on the train rows), CRPS as
2 × mean pinball loss over quantiles 0.05 … 0.95 divided by the same scale, 80 % interval
coverage ([q0.1, q0.9]) and sMAPE (in %).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from training.config import RunConfig
from training.data import ForecastData, load_forecast

log = logging.getLogger("rnngan.evaluate")
LEVELS = np.round(np.arange(0.05, 0.96, 0.05), 2)  # 0.05 … 0.95


def seasonal_scale(train: np.ndarray, season: int) -> float:
    return float(np.mean(np.abs(train[season:] - train[:-season])))


def pinball(truth: np.ndarray, quantiles: np.ndarray, levels: np.ndarray) -> float:
    """Mean pinball loss; quantiles (Q, N, H) at `levels`, truth (N, H)."""
    diff = truth[None] - quantiles
    q = levels[:, None, None]
    return float(np.mean(np.maximum(q * diff, (q - 1.0) * diff)))


def score(
    truth: np.ndarray, quantiles: np.ndarray, point: np.ndarray, scale: float
) -> dict[str, float]:
    """Scores of forecasts whose quantiles (Q, N, H) are at LEVELS."""
    lo, hi = quantiles[list(LEVELS).index(0.1)], quantiles[list(LEVELS).index(0.9)]
    denom = np.abs(truth) + np.abs(point)
    smape = np.where(denom > 0, 2.0 * np.abs(truth - point) / np.where(denom > 0, denom, 1), 0.0)
    return {
        "mase": float(np.mean(np.abs(truth - point)) / scale),
        "crps": 2.0 * pinball(truth, quantiles, LEVELS) / scale,
        "coverage_80": float(np.mean((truth >= lo) & (truth <= hi))),
        "smape": float(100.0 * np.mean(smape)),
    }


def rolling_windows(
    data: ForecastData, start: int, end: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    c, h = data.config.context_len, data.config.horizon
    origins = data.origins(start, end)
    histories = np.stack([data.series[o - c : o] for o in origins])
    truth = np.stack([data.series[o : o + h] for o in origins])
    return origins, histories, truth


def gan_paths(
    graph: nn.Module, histories: np.ndarray, horizon: int, latent: int, num_samples: int, seed: int
) -> np.ndarray:
    """(N, num_samples, H) sample paths from the exportable graph."""
    g = torch.Generator().manual_seed(seed)
    hist = torch.from_numpy(np.repeat(histories, num_samples, axis=0))
    noise = torch.randn(hist.shape[0], horizon, latent, generator=g)
    with torch.no_grad():
        out = graph(hist, noise).numpy()
    return out.reshape(len(histories), num_samples, horizon)


def score_gan(
    graph: nn.Module, config: RunConfig, data: ForecastData, start: int, end: int, scale: float
) -> dict[str, float]:
    _, histories, truth = rolling_windows(data, start, end)
    paths = gan_paths(
        graph,
        histories,
        config.data.horizon,
        config.model.latent_dim,
        config.eval.num_samples,
        config.seed,
    )
    quantiles = np.quantile(paths, LEVELS, axis=1)
    return score(truth, quantiles, quantiles[list(LEVELS).index(0.5)], scale)


def score_seasonal_naive(
    data: ForecastData, start: int, end: int, scale: float
) -> dict[str, float]:
    """A point forecast: every quantile is the value one season earlier."""
    origins, _, truth = rolling_windows(data, start, end)
    s, h = data.config.season, data.config.horizon
    point = np.stack(
        [
            data.series[o - s : o - s + h] if s >= h else np.resize(data.series[o - s : o], h)
            for o in origins
        ]
    )
    return score(truth, np.repeat(point[None], len(LEVELS), axis=0), point, scale)


def score_statsforecast(
    data: ForecastData, start: int, end: int, scale: float
) -> dict[str, dict[str, float]]:
    """AutoETS on the same windows: fit once on everything before the first origin, then
    filtered forward through each later window without refitting."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    origins, _, truth = rolling_windows(data, start, end)
    h = data.config.horizon
    y = data.series[: origins[-1] + h].astype(np.float64)
    frame = pd.DataFrame({"unique_id": "y", "ds": np.arange(len(y)), "y": y})
    levels_pct = sorted({int(round(abs(1 - 2 * q) * 100)) for q in LEVELS if q != 0.5})
    sf = StatsForecast(models=[AutoETS(season_length=data.config.season)], freq=1, n_jobs=1)
    cv = sf.cross_validation(
        df=frame, h=h, step_size=h, n_windows=len(origins), level=levels_pct, refit=False
    )
    out = {}
    for name in ["AutoETS"]:
        cols = []
        for q in LEVELS:
            if q == 0.5:
                cols.append(cv[name].to_numpy())
            else:
                pct = int(round(abs(1 - 2 * q) * 100))
                cols.append(cv[f"{name}-{'lo' if q < 0.5 else 'hi'}-{pct}"].to_numpy())
        quantiles = np.stack(cols).reshape(len(LEVELS), len(origins), h)
        point = cv[name].to_numpy().reshape(len(origins), h)
        if not np.allclose(cv["y"].to_numpy().reshape(len(origins), h), truth):
            raise AssertionError("statsforecast windows differ from the GAN's")
        out[name] = score(truth, quantiles, point, scale)
    return out


def evaluate_forecast(config: RunConfig, graph: nn.Module) -> dict[str, Any]:
    data = load_forecast(config.data)
    d = config.data
    scale = seasonal_scale(data.train, d.season)
    test = {
        "gan": score_gan(graph, config, data, d.val_end, d.test_end, scale),
        "seasonal_naive": score_seasonal_naive(data, d.val_end, d.test_end, scale),
        **score_statsforecast(data, d.val_end, d.test_end, scale),
    }
    validation = {"gan": score_gan(graph, config, data, d.train_end, d.val_end, scale)}
    return {
        "protocol": f"rolling origin every {d.horizon} rows over test rows [{d.val_end}, "
        f"{d.test_end}), horizon {d.horizon}, context {d.context_len}",
        "n_windows": int(len(data.origins(d.val_end, d.test_end))),
        "scale": scale,
        "test": test,
        "validation": validation,
        **{f"test_{k}": v for k, v in test["gan"].items()},
    }
