"""Forecasting a target column of the user's own long table (`task = "forecast"`,
`data.dataset = "table"`, `data.target`).

One global model learns from every entity at once: by default the panel forecaster of
training/families/panel_forecast.py (each window scaled by its own seasonal-naive error inside
the graph, so entities of any level share it; `data.season = 0` infers the season from the time
column); `model.kind = "forgan_v1"` keeps the ForGAN-class model of training/families/forgan.py.
Each entity's rows are split by time (training/data/tables.py); checkpoint selection scores
the validation part of every entity, each window in units of its entity's seasonal-naive scale,
so entities of different size weigh the same. Known-future columns (`data.future_cols`) and
calendar features (`data.calendar`) are fed to the default forecaster as covariates, for the
history and the horizon (training/families/panel_forecast.py); the checkpoint's config holds the
calendar features resolved from "auto". Static attributes (`data.static_cols`) are time-constant
covariate channels after those (one-hot per category, or the number); the checkpoint's config
holds them resolved (`data.static_cols` named, `data.static_channels` with the categories).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rnngan.core.manifest import DatasetInfo
from rnngan.core.tables.spec import TableError
from training.config import RunConfig
from training.data.forecast_panel import entity_count, first_named
from training.data.table_forecast import load_table_forecast
from training.evaluate.forecast import evaluate_table_forecast
from training.families import panel_forecast as panel
from training.families.forgan import ForGAN, ForGANTrainer, is_v1
from training.loop import Trainer

log = logging.getLogger("rnngan.train")


class TableForecast(ForGAN):
    name = "table_forecast"
    datasets = frozenset({"table"})

    def trainer(self, config: RunConfig, rng: torch.Generator) -> Trainer:
        d = config.data
        data = load_table_forecast(d)
        if not is_v1(config):
            return panel_trainer(config, rng, data)
        windows = data.train_windows(d.context_len + d.horizon)
        log.info("%s, %d training windows", entity_count(len(data.entities)), windows.shape[0])
        validation = data.origins("validation", d.context_len, d.horizon)
        dataset = DatasetInfo(
            name=Path(data.source).stem,
            source=data.source,
            sha256=data.sha256,
            columns=[data.target],
            n_windows=windows.shape[0],
        )
        return ForGANTrainer(config, rng, windows, validation, dataset=dataset, freq=data.freq)

    def evaluate(self, config: RunConfig, graph: nn.Module) -> dict[str, Any]:
        return evaluate_table_forecast(config, graph)


def panel_trainer(config: RunConfig, rng: torch.Generator, data: Any) -> Trainer:
    """The default forecaster over every entity; the checkpoint's config holds the season used
    (inferred when `data.season` is 0)."""
    d = config.data
    statics = tuple(a.name for a in data.static)
    if (
        data.season != d.season
        or data.calendar != d.calendar
        or statics != d.static_cols
        or data.static_channels != d.static_channels
    ):
        resolved = dataclasses.replace(
            d,
            season=data.season,
            calendar=data.calendar,
            static_cols=statics,
            static_channels=data.static_channels,
        )
        config = dataclasses.replace(config, data=resolved)
        d = config.data
    panel.check_shape(d.context_len, d.horizon, d.season)
    covs = None
    if data.covariate_stats is not None:
        covs = [e.covariates[: e.train_end] for e in data.entities if e.covariates is not None]
        log.info("covariates: %s", ", ".join(panel.covariate_columns(config)))
    short = d.short_histories  # entities from a season + horizon; a share of histories cut
    span, min_span = d.context_len + d.horizon, (d.season + d.horizon if short else 0)
    least = panel.PanelData.least_rows(span, min_span)
    untrained = [e.name for e in data.entities if e.train_end < least]
    named = first_named(untrained)
    need = "a season + horizon" if short else "context_len + horizon"
    if len(untrained) == len(data.entities):
        raise TableError(
            f"no entity has a train part of {least} rows ({need}) to train on: {named}; "
            "lower --horizon or --context-len" + ("" if short else ", or set data.short_histories")
        )
    if untrained:  # named, as the entities the reader skipped are
        log.warning(
            "%d of %d entities have a train part under %d rows (%s): not trained on, still "
            "forecast and scored where their validation and test parts hold a window: %s",
            len(untrained),
            len(data.entities),
            least,
            need,
            named,
        )
    train = panel.PanelData(
        [e.values[: e.train_end] for e in data.entities],
        span,
        covs,
        min_span=min_span,
        cut=(panel.SHORT_SHARE, d.context_len, d.season) if short else (0.0, 0, 0),
    )
    if train.n_short:
        log.info(
            "%d entities shorter than context_len + horizon train on NaN-padded histories",
            train.n_short,
        )
    hist, truth, scales = data.origins("validation", d.context_len, d.horizon)
    val_cov = data.origin_covariates("validation", d.context_len, d.horizon)
    series = np.concatenate(
        [
            np.full(len(origins), i)
            for i, (_, origins) in enumerate(
                data.entity_origins("validation", d.context_len, d.horizon)
            )
        ]
    )
    log.info(
        "%s, %d training windows, season %d",
        entity_count(len(data.entities)),
        train.n_windows,
        d.season,
    )
    dataset = DatasetInfo(
        name=Path(data.source).stem,
        source=data.source,
        sha256=data.sha256,
        columns=[data.target],
        n_windows=train.n_windows,
    )
    return panel.PanelTrainer(
        config,
        rng,
        train,
        panel.Validation(hist, truth, scales, series, val_cov),
        dataset=dataset,
        freq=data.freq,
        features=[data.target],
        seq_len=d.seq_len,
        covariate_stats=data.covariate_stats,
    )
