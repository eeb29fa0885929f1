"""Forecast scores (docs/quality.md), shared by evaluation and by checkpoint selection during
training: quantiles at LEVELS from sample paths, MASE (scale = in-sample MAE of the seasonal
naive on the train rows), CRPS as 2 × mean pinball loss over quantiles 0.05 … 0.95 divided by
the same scale, 80 % interval coverage ([q0.1, q0.9]) and sMAPE (in %), and statsforecast
baselines on the same windows. The spread calibration that evaluation fits and ships is
training/evaluate/versus.py `fit_spread`. Only the forecasters' evaluation and selection import
this module (benchmarks/provenance.py counts it as theirs).

A seasonal ETS model estimates one initial state per step of its season. Above 24 steps (R's
forecast::ets refuses such seasons and points to STL) statsforecast's AutoETS still fits one,
but its selection by AICc often settles on a model without a season: on weekly CO2 (season 52)
it chose ETS(A,Ad,N), MAE 8.2 over 48 weeks against the seasonal naive's 0.6, a baseline that
flatters any forecaster; elsewhere (5-minute traffic, season 288) the model without a season is
the better one. Above 24 an AutoETS baseline is therefore reported twice (`baseline_labels`):
`AutoETS` as statsforecast fits it, and `MSTL-AutoETS`, where STL takes the season out and
AutoETS (no season) forecasts the rest.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from training.config import MSTL_ETS

LEVELS = np.round(np.arange(0.05, 0.96, 0.05), 2)  # 0.05 … 0.95
ARIMA_INPUT = 1000  # AutoARIMA fits on at most this many rows before the first origin
ETS_LONGEST_SEASON = 24  # AutoETS above this season: MSTL-AutoETS beside it (module docstring)


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


def gan_paths(
    graph: nn.Module, histories: np.ndarray, horizon: int, latent: int, num_samples: int, seed: int
) -> np.ndarray:
    """(N, num_samples, H) sample paths from the exportable graph."""
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(len(histories), num_samples, horizon, latent, generator=g)
    with torch.no_grad():
        return graph(torch.from_numpy(np.asarray(histories)), noise).numpy()


def score_paths(paths: np.ndarray, truth: np.ndarray, scale: float) -> dict[str, float]:
    quantiles = np.quantile(paths, LEVELS, axis=1)
    return score(truth, quantiles, quantiles[list(LEVELS).index(0.5)], scale)


def score_paths_scaled(
    paths: np.ndarray, truth: np.ndarray, scales: np.ndarray
) -> dict[str, float]:
    """`score_paths` with a scale per window (N,): each window is divided by its own scale, so
    MASE and CRPS are in those units (series of different size weigh the same)."""
    s = np.asarray(scales, dtype=np.float64)[:, None]
    return score_paths(paths / s[:, None], truth / s, 1.0)


def baseline_labels(names: Sequence[str], season: int) -> list[str]:
    """The baselines that `eval.baselines` (`names`) stands for at this season, in order, each
    once, as they are reported: each name, and for AutoETS above ETS_LONGEST_SEASON
    MSTL-AutoETS beside it."""
    labels: dict[str, None] = {}
    for name in names:
        labels[name] = None
        if name == "AutoETS" and season > ETS_LONGEST_SEASON:
            labels[MSTL_ETS] = None
    return list(labels)


def statsforecast_quantiles(
    series: np.ndarray,
    origins: np.ndarray,
    horizon: int,
    season: int,
    name: str,
    input_size: int,
    truth: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One statsforecast model's quantiles (Q, N, H) at LEVELS and point forecasts (N, H) for
    origins spaced `horizon` apart: fit once on the history before the first origin (its last
    `input_size` rows when set), then filtered forward through each later window without
    refitting (AutoARIMA: orders p, q ≤ 2, P, Q ≤ 1, at most ARIMA_INPUT rows; `name` one of
    training/config.py's BASELINES). `truth`, when given, is checked against statsforecast's
    own windows."""
    import statsforecast.models as sfm
    from statsforecast import StatsForecast

    y = series[: origins[-1] + horizon].astype(np.float64)
    frame = pd.DataFrame({"unique_id": "y", "ds": np.arange(len(y)), "y": y})
    pcts = sorted({round(abs(1 - 2 * q) * 100) for q in LEVELS if q != 0.5})
    if name == "AutoARIMA":  # bounded orders and input: minutes, not hours, on a panel
        model = sfm.AutoARIMA(season_length=season, max_p=2, max_q=2, max_P=1, max_Q=1)
        input_size = min(input_size or ARIMA_INPUT, ARIMA_INPUT)
    elif name == MSTL_ETS:  # the season by STL, AutoETS without one on the rest
        model = sfm.MSTL(
            season_length=season, trend_forecaster=sfm.AutoETS(model="ZZN"), alias=name
        )
    else:
        model = getattr(sfm, name)(season_length=season)
    sf = StatsForecast(models=[model], freq=1, n_jobs=1)
    cv = sf.cross_validation(
        df=frame,
        h=horizon,
        step_size=horizon,
        n_windows=len(origins),
        level=pcts,
        refit=False,
        input_size=input_size or None,
    )
    if truth is not None and not np.allclose(
        cv["y"].to_numpy().reshape(len(origins), horizon), truth
    ):
        raise AssertionError("statsforecast windows differ from the GAN's")
    cols = [
        cv[name]
        if q == 0.5
        else cv[f"{name}-{'lo' if q < 0.5 else 'hi'}-{round(abs(1 - 2 * q) * 100)}"]
        for q in LEVELS
    ]
    quantiles = np.stack([c.to_numpy() for c in cols]).reshape(len(LEVELS), len(origins), horizon)
    return quantiles, cv[name].to_numpy().reshape(len(origins), horizon)
