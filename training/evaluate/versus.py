"""Does a forecaster beat the seasonal naive? Per window (in its series' scale units): the
point's absolute error, CRPS (2 × mean pinball over LEVELS) and 80 % coverage; per series, each
model's MASE and CRPS over the seasonal naive's on the same windows; overall, the geometric mean
of those ratios over series and the share of series below 1 (GIFT-Eval's way), and the verdict
`rnngan evaluate` and `rnngan export` print. Also the spread calibration fit on validation.

A series' ratio enters the geometric mean bounded to [RATIO_FLOOR, 1 / RATIO_FLOOR]: a model
that forecasts one series exactly (a constant stretch, error 0) would otherwise have a ratio of
~0, whose logarithm outweighs every other series (bench-panel's `short` panel: AutoETS's MASE
ratio was 0.707 overall from two such series, 1.068 over the other 38), and a series whose
seasonal naive is exact would otherwise put ~1e9 in it. Where both are exact the ratio is 1.
The per-series rows keep the unbounded ratios. Checkpoint selection
(training/families/panel_forecast.py `Selector`) takes the same mean.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from training.data.forecast_panel import FEW_WINDOWS
from training.evaluate.scores import LEVELS

# Calibration factors tried: 2^(k/14) for k in -84 … 84, i.e. 1/64 … 64 in even steps of the
# logarithm. A short trending series (the README's AirPassengers) needs a factor near 26: its
# sample paths are nearly deterministic on a hundred training rows.
SPREAD_GRID = np.exp(np.linspace(np.log(1 / 64), np.log(64.0), 169))
SPREAD_RANGE = "1/64 … 64"
RATIO_FLOOR = 0.01  # a series' ratio in the geometric mean: within [0.01, 100] (docstring)
# The 80 % interval's coverage on the test windows: outside COVERAGE_RANGE the verdict warns;
# outside COVERAGE_FAR it fails. For a Gaussian, 0.60 and 0.95 are intervals about 1.5 times too
# narrow and too wide (z 0.84 and 1.96 against 1.28), 0.75 and 0.85 about 1.1 times.
COVERAGE_RANGE = (0.75, 0.85)
COVERAGE_FAR = (0.60, 0.95)


def seasonal_naive_point(histories: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """(N, H): each history's last season repeated."""
    last = np.asarray(histories, dtype=np.float64)[:, -season:]
    return np.stack([np.resize(row, horizon) for row in last])


def fit_spread(paths: np.ndarray, truth: np.ndarray, target: float = 0.8) -> float:
    """The factor on the spread around the sample median (SPREAD_GRID) whose pooled [q0.1, q0.9]
    coverage on these (validation) windows, already in scale units, is closest to `target`;
    among equally close factors the one with the lower CRPS. The quantiles are taken once: those
    of median + c × (paths − median) are median + c × (quantile − median) for c > 0."""
    quantiles = np.quantile(paths, LEVELS, axis=1)
    median = quantiles[list(LEVELS).index(0.5)]
    best: tuple[tuple[float, float], float] | None = None
    for c in SPREAD_GRID:
        b = block(median + c * (quantiles - median), median, truth)
        key = (round(abs(float(np.mean(b["cov"])) - target), 3), float(np.mean(b["crps"])))
        if best is None or key < best[0]:
            best = (key, float(c))
    assert best is not None
    return round(best[1], 4)


def block(quantiles: np.ndarray, point: np.ndarray, truth: np.ndarray) -> dict[str, np.ndarray]:
    """Per window (scale units): absolute error of the point, CRPS (2 × mean pinball over
    LEVELS), 80 % coverage; quantiles (Q, N, H) at LEVELS, or (1, N, H) for a point forecast."""
    if quantiles.shape[0] == 1:
        quantiles = np.repeat(quantiles, len(LEVELS), axis=0)
    diff = truth[None] - quantiles
    q = LEVELS[:, None, None]
    crps = 2.0 * np.maximum(q * diff, (q - 1.0) * diff).mean(axis=(0, 2))
    lo, hi = quantiles[list(LEVELS).index(0.1)], quantiles[list(LEVELS).index(0.9)]
    return {
        "err": np.abs(point - truth).mean(axis=1),
        "crps": crps,
        "cov": ((truth >= lo) & (truth <= hi)).mean(axis=1),
    }


def block_from_paths(paths: np.ndarray, truth: np.ndarray) -> dict[str, np.ndarray]:
    quantiles = np.quantile(paths, LEVELS, axis=1)
    return block(quantiles, quantiles[list(LEVELS).index(0.5)], truth)


def series_ratio(model: np.ndarray, base: np.ndarray) -> np.ndarray:
    """model / base per series; 1 where both are 0 (both exact), ≥ 1e-12 otherwise."""
    both_exact = (model <= 1e-12) & (base <= 1e-12)
    return np.where(both_exact, 1.0, np.maximum(model / np.maximum(base, 1e-12), 1e-12))


def geometric_mean(ratios: np.ndarray) -> float:
    """The geometric mean of per-series ratios, each bounded to [RATIO_FLOOR, 1 / RATIO_FLOOR]."""
    bounded = np.clip(ratios, RATIO_FLOOR, 1.0 / RATIO_FLOOR)
    return float(np.exp(np.mean(np.log(bounded))))


def compare(
    blocks: dict[str, dict[str, np.ndarray]],
    ids: np.ndarray,
    names: list[str],
    *,
    calibrated: bool,
    subsets: dict[str, np.ndarray] | None = None,
    independent: int | None = None,
) -> dict[str, Any]:
    """Per-series MASE and CRPS of each model over the seasonal naive's on the same windows;
    the geometric mean of the ratios and the share of series below 1; the verdict. `subsets`:
    window masks of models scored on part of the windows (subsampled baselines). `independent`:
    how many non-overlapping windows the test windows cover (None: all of them; fewer than
    FEW_WINDOWS and the verdict says it is not firm). The model's 80 % coverage outside
    COVERAGE_RANGE is a warning, outside COVERAGE_FAR a failure: a constant or collapsed
    forecaster, whose interval is a point, cannot pass."""
    subsets = subsets or {}
    sn = blocks["seasonal_naive"]
    overall: dict[str, Any] = {}
    per_series: dict[int, dict[str, Any]] = {}
    for name, block in blocks.items():
        if name == "seasonal_naive":
            continue
        mask = subsets.get(name, np.ones(len(ids), dtype=bool))
        sid = ids[mask]
        uniq, inv = np.unique(sid, return_inverse=True)
        count = np.bincount(inv).astype(np.float64)

        vals = {k: np.bincount(inv, v) / count for k, v in block.items()}  # mask's windows
        sn_err = np.bincount(inv, sn["err"][mask]) / count
        sn_crps = np.bincount(inv, sn["crps"][mask]) / count
        r_mase = series_ratio(vals["err"], sn_err)
        r_crps = series_ratio(vals["crps"], sn_crps)
        overall[name] = {
            "mase_ratio": geometric_mean(r_mase),
            "crps_ratio": geometric_mean(r_crps),
            "share_beating_mase": float(np.mean(r_mase < 1.0)),
            "share_beating_crps": float(np.mean(r_crps < 1.0)),
            "coverage_80": float(np.mean(vals["cov"])),
            "series": int(len(uniq)),
        }
        for j, u in enumerate(uniq):
            row = per_series.setdefault(
                int(u),
                {
                    "series": names[int(u)],
                    "seasonal_naive_mase": float(sn_err[j]),
                    "seasonal_naive_crps": float(sn_crps[j]),
                },
            )
            row[f"{name}_mase"] = float(vals["err"][j])
            row[f"{name}_crps"] = float(vals["crps"][j])
            row[f"{name}_mase_ratio"] = float(r_mase[j])
            row[f"{name}_crps_ratio"] = float(r_crps[j])
    gan = overall["gan"]
    independent = len(ids) if independent is None else independent
    overlap = f", overlapping: {independent} one horizon apart" if independent < len(ids) else ""
    beats = gan["mase_ratio"] < 1.0 and gan["crps_ratio"] < 1.0
    cov = round(gan["coverage_80"], 3)  # judged as printed
    figures = (
        f"MASE ratio {gan['mase_ratio']:.3f}, CRPS ratio {gan['crps_ratio']:.3f} "
        f"(geometric means over {gan['series']} series of model / seasonal naive on the same "
        f"{len(ids)} test windows{overlap}); better than seasonal naive on "
        f"{gan['share_beating_mase']:.0%} of series "
        f"(MASE), {gan['share_beating_crps']:.0%} (CRPS); 80 % coverage {cov:.3f}"
    )
    failed = []
    warnings = []
    if not beats:
        failed.append("does not beat the seasonal naive")
    if not calibrated:
        failed.append("not calibrated (eval.calibrate = false)")
    line = (
        "beats the seasonal naive: " if beats else "does NOT beat the seasonal naive: "
    ) + figures
    in_range = COVERAGE_RANGE[0] <= cov <= COVERAGE_RANGE[1]
    if not COVERAGE_FAR[0] <= cov <= COVERAGE_FAR[1]:  # NaN too
        far = f"outside {COVERAGE_FAR[0]:.2f}–{COVERAGE_FAR[1]:.2f}"
        failed.append(f"80 % coverage {cov:.3f}, far from 0.80 ({far})")
        line = f"FAIL, INTERVAL OFF: {line} ({far})"
    elif not in_range:
        off = f"outside {COVERAGE_RANGE[0]:.2f}–{COVERAGE_RANGE[1]:.2f}"
        warnings.append(f"80 % coverage {cov:.3f} {off}")
        line += f" ({off}: a warning)"
    if not calibrated:
        line += "; NOT CALIBRATED: its spread was never fit to nominal coverage"
    few = independent < FEW_WINDOWS
    if few:
        windows = "window" if independent == 1 else "windows"
        warnings.append(
            f"only {independent} test {windows} one horizon apart: too few for a firm verdict"
        )
        line += f"; {warnings[-1]}"
    return {
        "vs_seasonal_naive": overall,
        "per_series": [per_series[k] for k in sorted(per_series)],
        "verdict": {
            "passed": not failed,
            "beats_seasonal_naive": beats,
            "calibrated": calibrated,
            "line": line,
            "failed": failed,
            "warnings": warnings,
            "collapse_suspected": False,
            "coverage_80": gan["coverage_80"],
            "coverage_in_range": in_range,
            "test_windows": len(ids),
            "independent_windows": independent,
            "few_windows": few,
        },
    }


def point_block(point: np.ndarray, truth: np.ndarray) -> dict[str, np.ndarray]:
    """`block` of a point forecast (every quantile the point)."""
    return block(point[None], point, truth)
