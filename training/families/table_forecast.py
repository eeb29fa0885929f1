"""Forecasting a target column of the user's own long table (`task = "forecast"`,
`data.dataset = "table"`, `data.target`).

One ForGAN-class model (training/families/forgan.py: same networks, step and checkpoint
selection) learns from every entity at once: each history is standardised by its own mean and
std inside the graph, so entities of any level share it. Each entity's rows are split by time
(training/data/tables.py); checkpoint selection scores the validation part of every entity, each
window in units of its entity's seasonal-naive scale, so entities of different size weigh the
same. Other columns are not used as covariates (not built yet).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnngan.core.manifest import DatasetInfo
from training.config import RunConfig
from training.data.tables import load_table_forecast
from training.evaluate.forecast import evaluate_table_forecast
from training.families.forgan import ForGAN, ForGANTrainer

log = logging.getLogger("rnngan.train")


class TableForecast(ForGAN):
    name = "table_forecast"
    datasets = frozenset({"table"})

    def trainer(self, config: RunConfig, rng: torch.Generator) -> ForGANTrainer:
        d = config.data
        data = load_table_forecast(d)
        windows = data.train_windows(d.context_len + d.horizon)
        log.info("%d entities, %d training windows", len(data.entities), windows.shape[0])
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
