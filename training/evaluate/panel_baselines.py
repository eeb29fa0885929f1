"""The baselines an own table's forecaster is scored against (training/evaluate/forecast.py
`evaluate_table_forecast`), on the same test windows: the seasonal naive, and statsforecast's
models fit per entity and filtered forward over its windows (refit=False), again where the
windows are not one horizon apart (a part of few windows, or a window left out over a missing
value), on at most `rnngan evaluate --max-entities` entities, in up to 2 processes."""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
from tqdm import tqdm

from rnngan.core.tables.spec import TableError
from training.config import MSTL_ETS, RunConfig
from training.data.forecast_panel import TableForecastData
from training.evaluate import tables as table_limits
from training.evaluate.scores import (
    ETS_LONGEST_SEASON,
    LEVELS,
    baseline_labels,
    score,
    statsforecast_quantiles,
)
from training.evaluate.versus import block

log = logging.getLogger("rnngan.evaluate")


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


def _entity_baseline(args: tuple[Any, ...]) -> tuple[np.ndarray, np.ndarray]:
    values, origins, horizon, season, name, input_size, truth = args
    return statsforecast_quantiles(values, origins, horizon, season, name, input_size, truth)


def baseline_blocks(
    data: TableForecastData, pairs: list[tuple[Any, np.ndarray]], config: RunConfig
) -> tuple[dict[str, dict[str, np.ndarray]], np.ndarray, dict[str, Any]]:
    """statsforecast baselines, one fit per run of origins one horizon apart (refit=False: a
    fit per entity, unless a window left out over a missing value breaks the run; one per origin
    where the origins are closer together than the horizon), on at most `rnngan evaluate
    --max-entities` entities (evenly spaced) and in up to 2 processes; returns the per-window
    blocks over those entities' windows, the window mask, and what was done."""
    d, e = config.data, config.eval
    n = len(pairs)
    cap = max(1, table_limits.LIMITS.max_entities)
    keep = np.unique(np.linspace(0, n - 1, min(n, cap)).round().astype(int))
    kept = set(keep.tolist())
    sizes = [len(o) for _, o in pairs]
    mask = np.concatenate([np.full(s, i in kept) for i, s in enumerate(sizes)])
    jobs = 1
    blocks: dict[str, dict[str, np.ndarray]] = {}
    seconds: dict[str, float] = {}
    # statsforecast's windows are one horizon apart: origins closer together (a part of few
    # windows, `TableForecastData.origin_stride`) are each a fit of their own on the history
    # before it, and a run of origins broken by a window left out (a missing value) starts a
    # fit of its own.
    overlap = any(np.any(np.diff(o) < d.horizon) for _, o in pairs)
    runs = {
        i: np.split(
            o, np.arange(1, len(o)) if overlap else np.flatnonzero(np.diff(o) > d.horizon) + 1
        )
        for i, (_, o) in enumerate(pairs)
        if i in kept
    }
    refits = sum(len(r) for r in runs.values()) > len(keep)
    # AutoETS above season 24 is reported twice: as fit, and MSTL-AutoETS (scores.py)
    for label in baseline_labels(e.baselines, d.season):
        started = time.perf_counter()
        tasks, scales = [], []
        for i in keep:
            entity = pairs[i][0]
            for group in runs[i]:
                truth = np.stack([entity.values[o : o + d.horizon] for o in group])
                tasks.append(
                    (entity.values, group, d.horizon, d.season, label, e.baseline_input_size, truth)
                )
                scales.append(entity.scale)
        desc = f"{label} on {len(keep)} series" + (f", {len(tasks)} fits" if refits else "")
        jobs = 1 if len(tasks) < 8 else min(2, os.cpu_count() or 1)
        if jobs > 1:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                results = list(tqdm(pool.map(_entity_baseline, tasks), total=len(tasks), desc=desc))
        else:
            results = [_entity_baseline(t) for t in tqdm(tasks, desc=desc)]
        parts = []
        for (quantiles, point), task, scale in zip(results, tasks, scales, strict=True):
            parts.append(block(quantiles / scale, point / scale, task[-1] / scale))
        blocks[label] = {k: np.concatenate([b[k] for b in parts]) for k in parts[0]}
        seconds[label] = round(time.perf_counter() - started, 1)
        log.info("%s on %d entities in %.1fs", label, len(keep), seconds[label])
    info = {
        "baselines_entities": int(len(keep)),
        "entities": n,
        "subsampled": bool(len(keep) < n),
        "processes": jobs,
        "seconds": seconds,
        "autoarima": "orders p, q <= 2, P, Q <= 1, last 1000 rows before the first origin",
    }
    if MSTL_ETS in blocks:
        info[MSTL_ETS] = (
            f"beside AutoETS at season {d.season}: above {ETS_LONGEST_SEASON} AutoETS's own "
            "selection often drops the season, so STL takes the season out and AutoETS "
            "forecasts the rest"
        )
    if overlap:
        info["fits"] = "one per origin (the origins are closer together than the horizon)"
        info["autoarima"] = "orders p, q <= 2, P, Q <= 1, last 1000 rows before each origin"
    elif refits:
        info["fits"] = (
            f"{sum(len(r) for r in runs.values())} on {len(keep)} entities: one per run of "
            "origins one horizon apart (a window left out over a missing value breaks a run)"
        )
        info["autoarima"] = "orders p, q <= 2, P, Q <= 1, last 1000 rows before each run"
    return blocks, mask, info
