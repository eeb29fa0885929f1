"""Data sets of docs/quality.md: loading, windowing, and scalers fit on the training data only.

Generation data are windows of `seq_len` steps, stride 1, min-max scaled to [0, 1].
Forecast data are one univariate column split by time into train / validation / test rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rnngan.core.manifest import file_sha256
from training.config import DataConfig

# Columns and orientation of the public files in data/ (see data/README.md).
DATA_DIR = Path("data")
FILE_DATASETS = {
    "stocks": {"file": "stock_data.csv", "reverse": True, "drop": []},
    "energy": {"file": "energy_data.csv", "reverse": False, "drop": []},
    "etth1": {"file": "ETTh1.csv", "reverse": False, "drop": ["date"]},
    "etth1_ot": {"file": "ETTh1.csv", "reverse": False, "drop": ["date"]},
    "traffic_a5m": {"file": "internet_traffic_a5m.csv", "reverse": False, "drop": ["date"]},
}


@dataclass(frozen=True)
class MinMax:
    data_min: np.ndarray  # (F,)
    data_max: np.ndarray  # (F,)

    @classmethod
    def fit(cls, x: np.ndarray) -> MinMax:
        flat = x.reshape(-1, x.shape[-1])
        return cls(flat.min(axis=0).astype(np.float64), flat.max(axis=0).astype(np.float64))

    @property
    def span(self) -> np.ndarray:
        # A constant feature gets span 1 so it maps to 0 and back without dividing by zero.
        span = self.data_max - self.data_min
        return np.where(span > 0, span, 1.0)

    def transform(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.data_min) / self.span).astype(np.float32)

    def inverse(self, x: np.ndarray) -> np.ndarray:
        return (x * self.span + self.data_min).astype(np.float32)


@dataclass(frozen=True)
class GenerationData:
    name: str
    windows: np.ndarray  # (N, T, F) scaled to [0, 1]
    features: list[str]
    scaler: MinMax
    source: str
    sha256: str | None


def sines(n: int, seq_len: int, n_features: int = 5, seed: int = 0) -> np.ndarray:
    """TimeGAN's Sines: each feature sin(f·t + p), f, p ~ U(0, 0.1), mapped to [0, 1] by (x+1)/2.
    Returns (n, seq_len, n_features) float32."""
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.0, 0.1, size=(n, 1, n_features))
    phase = rng.uniform(0.0, 0.1, size=(n, 1, n_features))
    t = np.arange(seq_len, dtype=np.float64)[None, :, None]
    return ((np.sin(freq * t + phase) + 1.0) / 2.0).astype(np.float32)


def sliding_windows(values: np.ndarray, seq_len: int) -> np.ndarray:
    """(rows, F) -> (rows - seq_len + 1, seq_len, F), stride 1 (a copy)."""
    if len(values) < seq_len:
        raise ValueError(f"{len(values)} rows are fewer than seq_len={seq_len}")
    view = np.lib.stride_tricks.sliding_window_view(values, seq_len, axis=0)  # (N, F, T)
    return np.ascontiguousarray(view.transpose(0, 2, 1))


def read_table(config: DataConfig) -> tuple[pd.DataFrame, Path]:
    spec = FILE_DATASETS[config.dataset]
    # Relative paths are read from the working directory: the repository root, where data/ is.
    path = Path(config.path) if config.path else DATA_DIR / str(spec["file"])
    if not path.is_file():
        raise FileNotFoundError(
            f"data file {path} not found (relative paths are read from the working directory: "
            "run from the repository root, or set data.path in the config)"
        )
    frame = pd.read_csv(path)
    if spec["reverse"]:
        frame = frame.iloc[::-1].reset_index(drop=True)  # the file is newest row first
    return frame.drop(columns=list(spec["drop"])), path  # type: ignore[arg-type]


def load_generation(config: DataConfig, seed: int) -> GenerationData:
    if config.dataset == "sines":
        windows = sines(config.n_series, config.seq_len, seed=seed)
        features = [f"sine_{i + 1}" for i in range(windows.shape[-1])]
        # Sines are already in [0, 1]; the identity scaler keeps that as the original unit.
        scaler = MinMax(np.zeros(len(features)), np.ones(len(features)))
        return GenerationData("sines", windows, features, scaler, "generated", None)
    frame, path = read_table(config)
    values = frame.to_numpy(dtype=np.float64)
    scaler = MinMax.fit(values)
    windows = sliding_windows(scaler.transform(values), config.seq_len)
    return GenerationData(
        config.dataset, windows, list(frame.columns), scaler, path.name, file_sha256(path)
    )


@dataclass(frozen=True)
class ForecastData:
    series: np.ndarray  # (rows,) float32, the whole target column
    config: DataConfig
    source: str
    sha256: str

    @property
    def train(self) -> np.ndarray:
        return self.series[: self.config.train_end]

    def windows(self, start: int, end: int) -> np.ndarray:
        """All (context_len + horizon) windows lying inside rows [start, end), stride 1."""
        span = self.config.context_len + self.config.horizon
        return sliding_windows(self.series[start:end, None], span)[..., 0]

    def origins(self, start: int, end: int, step: int | None = None) -> np.ndarray:
        """Forecast origins in [start, end - horizon], every `step` rows (default: horizon)."""
        step = step or self.config.horizon
        first = max(start, self.config.context_len)
        return np.arange(first, end - self.config.horizon + 1, step)


def load_forecast(
    config: DataConfig, table: tuple[pd.DataFrame, Path] | None = None
) -> ForecastData:
    """The target series of `config` (from `table`, read_table's result, when given)."""
    frame, path = table if table is not None else read_table(config)
    if config.target not in frame.columns:
        raise ValueError(f"target column '{config.target}' not in {list(frame.columns)}")
    series = frame[config.target].to_numpy(dtype=np.float32)
    if not np.isfinite(series).all():
        raise ValueError(f"column '{config.target}' has NaN or infinite values")
    return ForecastData(series, config, path.name, file_sha256(path))
