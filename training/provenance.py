"""What an exported manifest records of the run config (`Manifest.training`).

The checkpoint keeps the whole config (it rebuilds the model); the manifest travels with the
model to other machines and other people, so it records the options that applied to the model's
task and data set, and nothing of the machine it was trained on:

- the training file by its name only (`data.path = "ETTh1.csv"`, never `/home/me/...`), and no
  `out_dir` (where the runs were written);
- `[data]` options only where the run read them: no `target: "OT"` on a generator, no `n_series`
  outside sines, no `train_end` on a table; `[model]` and `[eval]` options of the forecasters only
  on forecasters; `model.table_head` and `train.burn_in` only on own-table generators; the
  TimeGAN-class options (`model.noise_skip`, `train.diff_relative`, `train.data_adv_weight`) only
  on TimeGAN-class generators; the autocorrelation, cross-correlation and within-window spread terms
  (`train.acf_weight`, `train.acf_lags`, `train.xcorr_weight`, `train.spread_weight`) on both.

`recorded_config` works on the config as a mapping, so it also tidies manifests written before
it existed (`python -m training.provenance models` rewrites them in place; the ONNX files and
their sha256 are untouched).
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
from pathlib import Path
from typing import Any

from rnngan.core.manifest import Manifest

log = logging.getLogger("rnngan.provenance")

TABLE_KEYS = ("id_col", "time_col", "static", "types", "bounds", "columns", "stride")
FORECAST_KEYS = ("target", "context_len", "horizon", "season")
SERIES_SPLIT_KEYS = ("train_end", "val_end", "test_end")  # built-in series: split by row
# table forecasts
TABLE_SPLIT_KEYS = (
    "val_share",
    "test_share",
    "future_cols",
    "calendar",
    "static_cols",
    "static_channels",
    "short_histories",
)
FORECAST_MODEL_KEYS = ("patch_len", "disc_context")
FORECAST_EVAL_KEYS = ("num_samples", "baselines", "baseline_input_size", "calibrate")
# own-table generators only
TABLE_GAN_KEYS = {"model": ("table_head",), "train": ("burn_in",)}
TIMEGAN_KEYS = {"model": ("noise_skip",), "train": ("diff_relative", "data_adv_weight")}
# both generator families above
GENERATOR_KEYS = {"train": ("acf_weight", "acf_lags", "xcorr_weight", "spread_weight")}
RUN_ONLY_KEYS = ("out_dir",)  # where the run was written: means nothing beside the model


def _applies(key: str, task: str, data: dict[str, Any]) -> bool:
    """Whether a run of `task` on `data["dataset"]` reads `[data].key` (training/data/). Keys
    this table does not name are kept: an option added later is recorded until it is listed."""
    dataset = data.get("dataset")
    if key == "path":
        return data.get("path") is not None
    if key == "n_series":
        return dataset == "sines"
    if key == "seq_len":
        return task == "generate"
    if key == "freq":  # forecasts; on a generator only when set on purpose, not the default
        return task == "forecast" or data.get("freq") is not None
    if key in TABLE_KEYS:
        return dataset == "table"
    if key in FORECAST_KEYS:
        return task == "forecast"
    if key in SERIES_SPLIT_KEYS:
        return task == "forecast" and dataset != "table"
    if key in TABLE_SPLIT_KEYS:
        return task == "forecast" and dataset == "table"
    return True


def applicable_data_keys(task: str, data: dict[str, Any]) -> set[str]:
    """The keys of `data` (a run's `[data]` table) that the run reads."""
    return {key for key in data if _applies(key, task, data)}


def recorded_config(config: dict[str, Any]) -> dict[str, Any]:
    """The run config (`RunConfig.to_dict()`, or a manifest's `training`) as a manifest records
    it; other keys (`steps_trained`, `selected_step`) are kept as they are."""
    out = copy.deepcopy(config)
    task = str(out.get("task"))
    for key in RUN_ONLY_KEYS:
        out.pop(key, None)
    data = out.get("data")
    if isinstance(data, dict):
        keep = applicable_data_keys(task, data)
        out["data"] = {k: v for k, v in data.items() if k in keep}
        if out["data"].get("path") is not None:
            # Path(...).name on either separator: a Windows path read on Linux too.
            out["data"]["path"] = str(out["data"]["path"]).replace("\\", "/").rsplit("/", 1)[-1]
    if task != "forecast":
        _drop(out, {"model": FORECAST_MODEL_KEYS, "eval": FORECAST_EVAL_KEYS})
    table_gan = task == "generate" and isinstance(data, dict) and data.get("dataset") == "table"
    if not table_gan:
        _drop(out, TABLE_GAN_KEYS)
    model = out.get("model")
    timegan = isinstance(model, dict) and model.get("kind") == "timegan"
    if not timegan:
        _drop(out, TIMEGAN_KEYS)
    if not (table_gan or timegan):
        _drop(out, GENERATOR_KEYS)
    return out


def _drop(config: dict[str, Any], keys: dict[str, tuple[str, ...]]) -> None:
    """Remove `keys[section]` from each section of `config` that is a table."""
    for section, names in keys.items():
        if isinstance(config.get(section), dict):
            config[section] = {k: v for k, v in config[section].items() if k not in names}


def tidy_manifests(models_dir: Path) -> list[Path]:
    """Rewrite `training` in every `<name>/<version>/manifest.json` under `models_dir` that
    records more than `recorded_config` keeps; returns the manifests rewritten. Only that
    section changes; the file keeps the key order and the 2-space indent the exporter writes."""
    changed = []
    for path in sorted(models_dir.glob("*/*/manifest.json")):
        raw = json.loads(path.read_text(encoding="utf-8"))
        tidy = recorded_config(raw["training"])
        if tidy != raw["training"]:
            raw["training"] = tidy
            Manifest.model_validate(raw)  # still a manifest the service serves
            path.write_text(json.dumps(raw, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            changed.append(path)
            log.info("tidied %s", path)
    return changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models_dir", type=Path, nargs="?", default=Path("models"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    changed = tidy_manifests(args.models_dir)
    log.info("%d manifest(s) rewritten", len(changed))


if __name__ == "__main__":
    main()
