"""Tiny configs for fast training tests."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from tests.conftest import REPO
from training.config import RunConfig, from_dict


def _etth1() -> Path:
    """The public ETTh1 file when the checkout has `../shared/data` beside it (as CI does), else
    a synthetic stand-in with its layout (hourly `date` and the seven columns, daily seasons and
    noise, fixed seed), so that `make test` passes in a clone with nothing beside it."""
    real = REPO.parent / "shared" / "data" / "ETTh1.csv"
    if real.is_file():
        return real
    path = Path(tempfile.gettempdir()) / "rnngan-tests" / "ETTh1-synthetic.csv"
    if path.is_file():
        return path
    rng = np.random.default_rng(0)
    n = 17420
    t = np.arange(n)
    frame = pd.DataFrame({"date": pd.date_range("2016-07-01", periods=n, freq="h")})
    for k, column in enumerate(["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]):
        daily = (2 + k % 3) * np.sin(2 * np.pi * (t + 3 * k) / 24)
        weekly = 0.5 * np.sin(2 * np.pi * t / 168)
        frame[column] = 10 + k + daily + weekly + rng.normal(0, 0.3, n).cumsum() * 0.05
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    frame.to_csv(partial, index=False, float_format="%.3f")
    partial.replace(path)  # atomic: a concurrent run never reads half a file
    return path


ETTH1 = _etth1()


def tiny_generate(out_dir: Path, steps: int = 2, seed: int = 0) -> RunConfig:
    config: RunConfig = from_dict(
        RunConfig,
        {
            "name": "tiny_sines",
            "task": "generate",
            "seed": seed,
            "out_dir": str(out_dir),
            "data": {"dataset": "sines", "seq_len": 12, "n_series": 64},
            "model": {
                "latent_dim": 3,
                "hidden_size": 8,
                "num_layers": 2,
                "disc_hidden_size": 8,
                "disc_num_layers": 1,
            },
            "train": {
                "steps": steps,
                "batch_size": 16,
                "moment_weight": 1.0,
                "log_every": 1,
                "threads": 1,
            },
            "eval": {"runs": 1, "disc_steps": 20, "pred_steps": 20, "batch_size": 16},
        },
    )
    return config


def tiny_forecast(out_dir: Path, steps: int = 2, seed: int = 0) -> RunConfig:
    config: RunConfig = from_dict(
        RunConfig,
        {
            "name": "tiny_ot",
            "task": "forecast",
            "seed": seed,
            "out_dir": str(out_dir),
            "data": {
                "dataset": "etth1_ot",
                "path": str(ETTH1),
                "context_len": 48,
                "horizon": 12,
                "season": 24,
                "train_end": 600,
                "val_end": 800,
                "test_end": 1000,
                "freq": "h",
            },
            "model": {
                "latent_dim": 2,
                "hidden_size": 8,
                "num_layers": 1,
                "disc_hidden_size": 8,
                "disc_num_layers": 1,
                "patch_len": 4,
                "disc_context": 12,
            },
            "train": {
                "steps": steps,
                "batch_size": 16,
                "adv_weight": 0.1,
                "crps_weight": 1.0,
                "log_every": 1,
                "threads": 1,
            },
            "eval": {"num_samples": 20},
        },
    )
    return config


def tiny_timegan(out_dir: Path, steps: int = 2, seed: int = 0) -> RunConfig:
    config: RunConfig = from_dict(
        RunConfig,
        {
            "name": "tiny_timegan",
            "task": "generate",
            "seed": seed,
            "out_dir": str(out_dir),
            "data": {"dataset": "sines", "seq_len": 12, "n_series": 64},
            "model": {
                "kind": "timegan",
                "latent_dim": 3,
                "hidden_size": 8,
                "num_layers": 2,
                "disc_hidden_size": 8,
                "disc_num_layers": 1,
            },
            "train": {
                "steps": steps,
                "embed_steps": 2,
                "supervised_steps": 2,
                "batch_size": 16,
                "moment_weight": 100.0,
                "ema_decay": 0.9,
                "d_threshold": 0.0,
                "log_every": 1,
                "threads": 1,
            },
            "eval": {"runs": 1, "disc_steps": 20, "pred_steps": 20, "batch_size": 16},
        },
    )
    return config


def tiny_table(out_dir: Path, steps: int = 2, seed: int = 0) -> RunConfig:
    """A generate model on a small own table (written to `out_dir`/stores.csv)."""
    from examples.tables import mixed_table

    out_dir.mkdir(parents=True, exist_ok=True)
    mixed_table(seed=3, entities=6).to_csv(out_dir / "stores.csv", index=False)
    config: RunConfig = from_dict(
        RunConfig,
        {
            "name": "tiny_stores",
            "task": "generate",
            "seed": seed,
            "out_dir": str(out_dir),
            "data": {
                "dataset": "table",
                "path": str(out_dir / "stores.csv"),
                "id_col": "store",
                "time_col": "date",
                "bounds": ["humidity=0:100"],
                "seq_len": 12,
                "stride": 4,
            },
            "model": {"latent_dim": 3, "hidden_size": 8, "num_layers": 1, "disc_hidden_size": 8},
            "train": {
                "steps": steps,
                "batch_size": 16,
                "moment_weight": 1.0,
                "ema_decay": 0.9,
                "log_every": 1,
                "threads": 1,
            },
            "eval": {"runs": 1, "disc_steps": 20, "pred_steps": 20, "batch_size": 16},
        },
    )
    return config


def tiny_table_forecast(out_dir: Path, steps: int = 2, seed: int = 0) -> RunConfig:
    """A forecaster of one column of a small own table (written to `out_dir`/sensors.csv)."""
    from examples.tables import etth1_entities

    out_dir.mkdir(parents=True, exist_ok=True)
    etth1_entities(rows=1200).to_csv(out_dir / "sensors.csv", index=False)
    config: RunConfig = from_dict(
        RunConfig,
        {
            "name": "tiny_sensors_fc",
            "task": "forecast",
            "seed": seed,
            "out_dir": str(out_dir),
            "data": {
                "dataset": "table",
                "path": str(out_dir / "sensors.csv"),
                "id_col": "sensor",
                "time_col": "date",
                "target": "value",
                "context_len": 48,
                "horizon": 12,
                "season": 24,
            },
            "model": {"latent_dim": 2, "hidden_size": 8, "num_layers": 1, "patch_len": 4},
            "train": {
                "steps": steps,
                "batch_size": 16,
                "select_every": 1,
                "select_samples": 5,
                "log_every": 1,
                "threads": 1,
            },
            "eval": {"num_samples": 20},
        },
    )
    return config


def tiny_image(
    out_dir: Path,
    steps: int = 2,
    seed: int = 0,
    *,
    kind: str = "image",
    conditioning: str = "label",
) -> RunConfig:
    """A digits image model (label, unconditional or text) with tiny networks."""
    config: RunConfig = from_dict(
        RunConfig,
        {
            "name": f"tiny_{kind}_{conditioning}",
            "task": "image",
            "seed": seed,
            "out_dir": str(out_dir),
            "data": {"dataset": "digits"},
            "model": {"kind": kind, "latent_dim": 3, "hidden_size": 8, "disc_hidden_size": 8},
            "image": {
                "conditioning": conditioning,
                "disc_features": 16,
                "text_dim": 8,
                "encoder_steps": 3,
                "encoder_batch": 16,
                "select_images": 50,
                "r1_weight": 1.0,
            },
            "train": {
                "steps": steps,
                "batch_size": 16,
                "select_every": 1,
                "log_every": 1,
                "threads": 1,
            },
            "eval": {"runs": 1},
        },
    )
    return config


def tiny_image_uncond(out_dir: Path, steps: int = 2, seed: int = 0) -> RunConfig:
    return tiny_image(out_dir, steps, seed, conditioning="none")


def tiny_text_image(out_dir: Path, steps: int = 2, seed: int = 0) -> RunConfig:
    return tiny_image(out_dir, steps, seed, kind="text_image")


# One tiny config per model family (the conformance test checks every family has one).
TINY = {
    "rcgan": tiny_generate,
    "timegan": tiny_timegan,
    "forgan": tiny_forecast,
    "table_gan": tiny_table,
    "table_forecast": tiny_table_forecast,
    "image": tiny_image,
    "image_uncond": tiny_image_uncond,
    "text_image": tiny_text_image,
}
