"""Forecast evaluation (docs/quality.md): rolling origin over the test rows, a forecast every
`horizon` rows (an own table's part of few windows: closer together, below), each seeing only
the history before it. The GAN, seasonal naive and statsforecast's AutoETS (and AutoARIMA, when
configured) are scored on the same windows in the same run (scores in
training/evaluate/scores.py).

Does it beat the seasonal naive? Per series, MASE and CRPS are divided by the seasonal naive's
on the same windows; overall: the geometric mean of those ratios over series and the share of
series below 1 (GIFT-Eval's way), in `metrics["vs_seasonal_naive"]`, per series in
`metrics["per_series"]`, and the verdict (`metrics["verdict"]`, printed by `rnngan evaluate` and
`rnngan export`) says plainly when the model does NOT beat the seasonal naive.

- One built-in series (`evaluate_forecast`): validation rows fit the calibration, test rows are
  scored once, in units of the series' seasonal-naive scale.
- A target column of the user's own table (`evaluate_table_forecast`): every entity's
  validation and test parts (training/data/tables.py), each window in units of its entity's
  seasonal-naive scale, so entities of different size weigh the same; statsforecast baselines
  are fit once per entity and filtered forward over the same windows
  (training/evaluate/panel_baselines.py). Where a part holds fewer than 30 windows one horizon
  apart, its origins come closer together (training/data/forecast_panel.py `origin_stride`);
  the baselines are then fit at each origin on the history before it, and the verdict counts
  the non-overlapping windows its overlapping ones cover (fewer than 30: "too few for a firm
  verdict"). A window whose horizon holds a target value missing in the table is left out (and
  counted); the baselines are fit again after it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from rnngan.core.manifest import Calibration
from training.config import RunConfig
from training.data.forecast_panel import FEW_WINDOWS, entity_count, first_named
from training.data.series import ForecastData, load_forecast
from training.data.table_forecast import load_table_forecast
from training.evaluate.panel_baselines import baseline_blocks, seasonal_naive_scores
from training.evaluate.scores import (
    LEVELS,
    baseline_labels,
    gan_paths,
    score,
    score_paths,
    score_paths_scaled,
    seasonal_scale,
    statsforecast_quantiles,
)
from training.evaluate.versus import (
    SPREAD_RANGE,
    block,
    block_from_paths,
    compare,
    fit_spread,
    seasonal_naive_point,
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
    for label in baseline_labels(models, data.config.season):
        started = time.perf_counter()
        quantiles, point = statsforecast_quantiles(
            data.series, origins, h, data.config.season, label, input_size, truth
        )
        out[label] = score(truth, quantiles, point, scale)
        log.info("%s on %d windows in %.1fs", label, len(origins), time.perf_counter() - started)
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
            spread_scale=fit_spread(val_paths / scale, val_truth / scale),
            fit_on=f"validation rows [{d.train_end}, {d.val_end}), rolling origin: the factor "
            f"in {SPREAD_RANGE} whose 80 % interval coverage is closest to 0.80",
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
    cal = metrics.get("calibration")
    test_scaled = test_paths / scale
    if cal is not None:
        test_scaled = Calibration(**cal).apply(test_scaled)
    sn_point = seasonal_naive_point(test_hist, d.horizon, d.season) / scale
    ids = np.zeros(len(test_hist), dtype=int)
    blocks = {
        "gan": block_from_paths(test_scaled, test_truth / scale),
        "seasonal_naive": block(sn_point[None], sn_point, test_truth / scale),
    }
    metrics.update(compare(blocks, ids, [config.data.target], calibrated=cal is not None))
    sn_test = test["seasonal_naive"]
    for name, sc in test.items():
        if name not in ("gan", "gan_uncalibrated", "seasonal_naive"):
            r_mase = sc["mase"] / max(sn_test["mase"], 1e-12)
            r_crps = sc["crps"] / max(sn_test["crps"], 1e-12)
            metrics["vs_seasonal_naive"][name] = {
                "mase_ratio": r_mase,
                "crps_ratio": r_crps,
                "share_beating_mase": float(r_mase < 1),
                "share_beating_crps": float(r_crps < 1),
                "coverage_80": sc["coverage_80"],
                "series": 1,
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


def _rows(stride: int) -> str:
    return "row" if stride == 1 else f"{stride} rows"


def _gan_paths_progress(
    graph: nn.Module,
    hist: np.ndarray,
    config: RunConfig,
    seed: int,
    desc: str,
    covariates: np.ndarray | None = None,
) -> np.ndarray:
    d, e = config.data, config.eval
    g = torch.Generator().manual_seed(seed)
    out = []
    chunk = max(1, 200_000 // max(1, e.num_samples * d.horizon))
    for a in tqdm(range(0, len(hist), chunk), desc=desc, mininterval=5.0):
        h = torch.from_numpy(np.asarray(hist[a : a + chunk], dtype=np.float32))
        noise = torch.randn(len(h), e.num_samples, d.horizon, config.model.latent_dim, generator=g)
        inputs = [h, noise]
        if covariates is not None:
            inputs.append(torch.from_numpy(covariates[a : a + chunk]))
        with torch.no_grad():
            out.append(graph(*inputs).numpy())
    return np.concatenate(out)


def evaluate_table_forecast(config: RunConfig, graph: nn.Module) -> dict[str, Any]:
    data = load_table_forecast(config.data)
    d, e = config.data, config.eval
    val_hist, val_truth, val_scales = data.origins("validation", d.context_len, d.horizon)
    test_hist, test_truth, test_scales = data.origins("test", d.context_len, d.horizon)
    val_cov = data.origin_covariates("validation", d.context_len, d.horizon)
    test_cov = data.origin_covariates("test", d.context_len, d.horizon)
    val_paths = _gan_paths_progress(
        graph, val_hist, config, config.seed, "validation paths", val_cov
    )
    test_paths = _gan_paths_progress(
        graph, test_hist, config, config.seed + 1, "test paths", test_cov
    )
    metrics: dict[str, Any] = {}
    raw = score_paths_scaled(test_paths, test_truth, test_scales)
    gan = raw
    vs = val_scales[:, None, None]
    ts = test_scales[:, None, None]
    test_scaled = test_paths / ts
    if e.calibrate:
        factor = fit_spread(val_paths / vs, val_truth / val_scales[:, None])
        val_stride = data.origin_stride("validation", d.context_len, d.horizon)
        val_gaps = data.gap_windows("validation", d.context_len, d.horizon, val_stride)
        calibration = Calibration(
            spread_scale=factor,
            fit_on=f"the validation part ({d.val_share:.0%}) of every entity, rolling origin "
            f"every {_rows(val_stride)} ({len(val_hist)} windows"
            + (f"; {val_gaps} over a missing '{data.target}' value left out" if val_gaps else "")
            + f"): the factor in {SPREAD_RANGE} whose pooled 80 % interval coverage is closest "
            "to 0.80",
        )
        metrics["calibration"] = calibration.model_dump()
        gan = score_paths_scaled(calibration.apply(test_paths), test_truth, test_scales)
        test_scaled = calibration.apply(test_scaled)
    pairs = data.entity_origins("test", d.context_len, d.horizon)
    ids = np.concatenate([np.full(len(o), i) for i, (_, o) in enumerate(pairs)])
    truth_s = test_truth / test_scales[:, None]
    sn_point = seasonal_naive_point(test_hist, d.horizon, d.season) / test_scales[:, None]
    blocks = {
        "gan": block_from_paths(test_scaled, truth_s),
        "seasonal_naive": block(sn_point[None], sn_point, truth_s),
    }
    base, mask, info = baseline_blocks(data, pairs, config)
    blocks.update(base)
    comparison = compare(
        blocks,
        ids,
        [entity.name for entity, _ in pairs],
        calibrated="calibration" in metrics,
        subsets={name: mask for name in base},
        independent=data.window_count("test", d.context_len, d.horizon, d.horizon),
    )
    stride = data.origin_stride("test", d.context_len, d.horizon)
    gaps = data.gap_windows("test", d.context_len, d.horizon, stride)
    gap_entities = data.gap_entities("test", d.context_len, d.horizon, stride)
    pooled = {
        name: {
            "mase": float(np.mean(b["err"])),
            "crps": float(np.mean(b["crps"])),
            "coverage_80": float(np.mean(b["cov"])),
        }
        for name, b in base.items()
    }
    test = {
        "gan": gan,
        "gan_uncalibrated": raw,
        "seasonal_naive": seasonal_naive_scores(data, "test", d.context_len, d.horizon, d.season),
        **pooled,
    }
    return {
        **metrics,
        **comparison,
        "baselines": info,
        "protocol": f"each entity split by time ({1 - d.val_share - d.test_share:.0%} train, "
        f"{d.val_share:.0%} validation, {d.test_share:.0%} test), rolling origin every "
        + _rows(stride)
        + " over each test part"
        + (
            f" (overlapping windows: one every {d.horizon} rows would leave fewer than "
            f"{FEW_WINDOWS} test windows" + (" over observed values)" if gaps else ")")
            if stride < d.horizon
            else ""
        )
        + f", horizon {d.horizon}, context {d.context_len}, "
        f"season {d.season}, {e.num_samples} sample paths; MASE and CRPS per window in units "
        "of its entity's seasonal-naive scale"
        + (
            f"; origins from {data.shortest} rows of history (short histories: a shorter one "
            "than the context is NaN-padded), so the windows differ from a full-context model's"
            if data.shortest
            else ""
        )
        + (
            f"; {gaps} test windows left out: their horizon holds a '{data.target}' value missing "
            "in the table (filled by interpolation for training and histories only)"
            + (
                f"; {entity_count(len(gap_entities))} lost every test window to them: no test "
                f"score holds them ({first_named(gap_entities)})"
                if gap_entities
                else ""
            )
            if gaps
            else ""
        )
        + (
            f"; baselines on {info['baselines_entities']} of {info['entities']} entities "
            "(evenly spaced; `rnngan evaluate --max-entities`)"
            if info["subsampled"]
            else ""
        ),
        "entities": len(data.entities),
        "n_windows": len(test_hist),
        "test": test,
        "validation": {"gan_uncalibrated": score_paths_scaled(val_paths, val_truth, val_scales)},
        **{f"test_{k}": v for k, v in gan.items()},
    }
