"""The user's own long table (`data.dataset = "table"`), one row per (entity, time): reading it,
and cutting it into what each own-table family trains on.

- Generation (training/families/table_gan.py): each entity becomes a (T, D) array of model
  channels (rnngan/core/tables/codec.py) and a static condition vector. Training windows are
  `seq_len` steps at `stride` from every entity; an entity shorter than `seq_len` is one window,
  zero-padded, with a mask of its real steps. `seq_len = 0` (the default of `rnngan train
  --data`) picks the longest entity's length up to AUTO_SEQ_LEN. Each window's first step in
  its entity is kept (`starts`): the trainer runs the generator that many steps (up to
  `train.burn_in`) before the window it compares, as a synthetic entity reaches that window.
- Forecasting (training/families/table_forecast.py): training/data/table_forecast.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rnngan.core.manifest import file_sha256
from rnngan.core.tables.codec import encode_entities
from rnngan.core.tables.infer import infer_spec
from rnngan.core.tables.spec import TableError, TableSpec
from training.config import DataConfig

log = logging.getLogger("rnngan.train")

AUTO_SEQ_LEN = 96


def read_user_table(path: str | Path) -> pd.DataFrame:
    """A CSV or Parquet file as a frame."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file {path} not found")
    suffix = "".join(path.suffixes[-2:]).lower()
    if suffix.endswith((".parquet", ".pq")):
        return pd.read_parquet(path)
    if suffix.endswith((".csv", ".csv.gz", ".txt")):
        return pd.read_csv(path)
    raise TableError(f"{path.name}: expected a .csv, .csv.gz or .parquet file")


def spec_from_config(config: DataConfig) -> tuple[TableSpec, pd.DataFrame]:
    frame = read_user_table(str(config.path))
    return infer_spec(
        frame,
        id_column=str(config.id_col),
        time_column=config.time_col,
        static=config.static,
        types=config.types,
        bounds=config.bounds,
        columns=config.columns,
    )


@dataclass(frozen=True)
class TableData:
    spec: TableSpec
    frame: pd.DataFrame  # sorted by (entity, time), with the parsed time in `__t`
    entities: list[tuple[np.ndarray, np.ndarray]]  # per entity: (T, D) channels, (C,) condition
    seq_len: int  # the window length trained on (resolved when the config says 0)
    windows: np.ndarray  # (N, seq_len, D), zero-padded
    valid: np.ndarray  # (N, seq_len) 1 on real steps
    conditions: np.ndarray  # (N, C)
    source: str
    sha256: str
    starts: np.ndarray  # (N,) each window's first step in its entity


def make_windows(
    entities: list[tuple[np.ndarray, np.ndarray]], seq_len: int, stride: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Windows (N, seq_len, D), their masks of real steps (N, seq_len), conditions (N, C) and
    first steps in their entities (N,)."""
    windows, valid, conditions, starts = [], [], [], []
    for x, cond in entities:
        length, width = x.shape
        if length >= seq_len:
            for start in range(0, length - seq_len + 1, stride):
                windows.append(x[start : start + seq_len])
                valid.append(np.ones(seq_len, dtype=np.float32))
                conditions.append(cond)
                starts.append(start)
        else:
            padded = np.zeros((seq_len, width), dtype=np.float32)
            padded[:length] = x
            mask = np.zeros(seq_len, dtype=np.float32)
            mask[:length] = 1.0
            windows.append(padded)
            valid.append(mask)
            conditions.append(cond)
            starts.append(0)
    return (
        np.stack(windows).astype(np.float32),
        np.stack(valid).astype(np.float32),
        np.stack(conditions).astype(np.float32),
        np.asarray(starts, dtype=np.int64),
    )


def load_table(config: DataConfig) -> TableData:
    spec, frame = spec_from_config(config)
    entities = encode_entities(spec, frame)
    seq_len = config.seq_len or min(max(spec.length_values), AUTO_SEQ_LEN)
    windows, valid, conditions, starts = make_windows(entities, seq_len, config.stride)
    path = Path(str(config.path))
    return TableData(
        spec,
        frame,
        entities,
        seq_len,
        windows,
        valid,
        conditions,
        path.name,
        file_sha256(path),
        starts,
    )
