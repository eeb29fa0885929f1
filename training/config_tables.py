"""The run config `rnngan train --data` builds for the user's own table (`table_config`):
defaults sized for a 2-core CPU, comma-separated options as the command line takes them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rnngan.core.tables.spec import TableError
from training.config import RunConfig, from_dict

# `rnngan train --data`'s `train.burn_in`: one window of the automatic length
# (training/data/tables.py AUTO_SEQ_LEN), or of `--seq-len` when given.
AUTO_BURN_IN = 96


def table_config(
    data: Path,
    *,
    id_col: str,
    time_col: str | None = None,
    name: str | None = None,
    static: str | None = None,
    types: str | None = None,
    bounds: str | None = None,
    columns: str | None = None,
    seq_len: int = 0,
    out_dir: str | None = None,
    task: str = "generate",
    target: str | None = None,
    horizon: int = 24,
    context_len: int = 168,
    season: int = 0,
    future_cols: str | None = None,
    calendar: str | None = None,
    static_cols: str | None = None,
) -> RunConfig:
    """The run config `rnngan train --data` uses: defaults sized for a 2-core CPU (minutes),
    comma-separated options as the command line takes them. `task="forecast"` forecasts the
    `target` column with the panel forecaster (training/families/panel_forecast.py); season 0
    infers the season from the time column."""

    def split(value: str | None) -> list[str]:
        return [v.strip() for v in value.split(",") if v.strip()] if value else []

    slug = re.sub(r"[^a-z0-9_\-]+", "_", (name or data.stem).lower()).strip("_-") or "table"
    raw: dict[str, Any] = {
        "name": slug[:64],
        "task": "generate",
        "description": f"Trained on {data.name} (id column {id_col}).",
        "data": {
            "dataset": "table",
            "path": str(data),
            "id_col": id_col,
            "time_col": time_col,
            "types": split(types),
            "bounds": split(bounds),
            "columns": split(columns),
            "seq_len": seq_len,
        },
        "model": {
            "latent_dim": 8,
            "hidden_size": 48,
            "num_layers": 2,
            "disc_hidden_size": 48,
            "table_head": "coupled",
        },
        "train": {
            "steps": 3000,
            "batch_size": 128,
            "moment_weight": 10.0,
            "diff_weight": 10.0,
            "ema_decay": 0.998,
            # Windows are compared after up to one window of generation before them: synthetic
            # entities run for thousands of steps, far past the window trained on.
            "burn_in": seq_len or AUTO_BURN_IN,
            # ... and their autocorrelation is matched over a day of hourly rows (tables whose
            # entities are longer than one window).
            "acf_weight": 10.0,
            "acf_lags": 24,
            # ... and so are the channels' correlations, over all steps and within each window.
            "xcorr_weight": 10.0,
            # The exported weights are the best on held-out windows (training/selection.py).
            "select_every": 250,
            "threads": 1,
        },
        "eval": {"runs": 3, "disc_steps": 1000, "pred_steps": 2000},
    }
    if task == "forecast":
        if not target:
            raise TableError("forecasting needs --target, the column to forecast")
        if context_len % 4:
            raise TableError("--context-len must be a multiple of 4 (the history patch length)")
        raw["task"] = "forecast"
        raw["data"].update(
            target=target,
            horizon=horizon,
            context_len=context_len,
            season=season,
            seq_len=24,
            short_histories=True,
        )
        raw["model"] = {
            "latent_dim": 8,
            "hidden_size": 64,
            "num_layers": 1,
            "disc_hidden_size": 64,
            "disc_num_layers": 1,
            "patch_len": 4,
            "disc_context": min(48, context_len),
        }
        raw["train"] = {
            # Up to 3000 steps, stopped after 6 validations (900 steps) without a better one:
            # at 1200 steps the selected step was still near the end (bench-panel).
            "steps": 3000,
            "patience": 6,
            "batch_size": 64,
            "adv_weight": 0.1,
            "crps_weight": 1.0,
            "select_every": 150,
            "select_samples": 32,
            "threads": 1,
        }
        raw["eval"] = {
            "num_samples": 200,
            "baselines": ["AutoETS"],
            "baseline_input_size": 2000,
        }
    if static is not None:
        raw["data"]["static"] = split(static)
    if future_cols:
        raw["data"]["future_cols"] = split(future_cols)
    if calendar:
        raw["data"]["calendar"] = split(calendar)
    if static_cols:
        raw["data"]["static_cols"] = split(static_cols)
    if out_dir is not None:
        raw["out_dir"] = out_dir
    config: RunConfig = from_dict(RunConfig, raw)
    return config
