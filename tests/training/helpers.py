"""Tiny configs for fast training tests."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import REPO
from training.config import RunConfig, from_dict

# The public ETTh1 file (data/README.md), in the repository.
ETTH1: Path = REPO / "data" / "ETTh1.csv"


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
            "model": {
                "latent_dim": 3,
                "hidden_size": 8,
                "num_layers": 1,
                "disc_hidden_size": 8,
                "table_head": "coupled",
            },
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
                "short_histories": True,  # as `rnngan train --data … --task forecast`
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
