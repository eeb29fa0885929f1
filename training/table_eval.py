"""Quality of a model trained on an own table: the benchmark report (discriminative, predictive,
ACF and cross-correlation errors on the model's channels) plus per-column checks on synthetic
tables decoded exactly as the service decodes them (service/table.py `synthesize`).

Per-column checks, real (the training table) vs synthetic (as many entities, lengths drawn):
- categorical columns: total variation distance between category frequencies;
- boolean columns: share of true, real and synthetic;
- numeric columns: mean, std, Kolmogorov-Smirnov statistic; integer columns: share of values
  that are whole numbers; every numeric column: share outside its bounds (declared, else the
  training range);
- every column: share of missing values, real and synthetic;
- series lengths: Kolmogorov-Smirnov statistic and means; timestamps: median gap.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.stats import ks_2samp

from service.table import NUMERIC, TableSpec, channel_layout, synthesize
from training.config import RunConfig
from training.evaluate import generation_report
from training.plots import projection_figure
from training.table import TableData, TableGraph, load_table

MAX_EVAL_WINDOWS = 4000


def _torch_runner(graph: TableGraph):  # type: ignore[no-untyped-def]
    def run(noise: np.ndarray, condition: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return graph(torch.from_numpy(noise), torch.from_numpy(condition)).numpy()

    return run


def real_windows(data: TableData, length: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Full windows of `length` steps (stride 1) from every entity long enough, up to
    MAX_EVAL_WINDOWS drawn at random: (N, length, D) channels and (N, C) conditions."""
    xs, cs = [], []
    for x, cond in data.entities:
        if len(x) >= length:
            view = np.lib.stride_tricks.sliding_window_view(x, length, axis=0)
            xs.append(view.transpose(0, 2, 1))
            cs.append(np.repeat(cond[None], view.shape[0], axis=0))
    windows, conditions = np.concatenate(xs), np.concatenate(cs)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(windows))[:MAX_EVAL_WINDOWS]
    return windows[order].astype(np.float32), conditions[order].astype(np.float32)


def hard_channels(spec: TableSpec, raw: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Discrete channels of generator output sampled to 0/1 (one-hot for categories), as real
    data have them; numeric channels unchanged."""
    layout = channel_layout(spec)
    out = raw.copy()
    for column in spec.dynamic:
        where = layout.values[column.name]
        if column.kind == "categorical":
            probs = raw[..., where].astype(np.float64)
            cdf = np.cumsum(probs, axis=-1)
            cdf /= np.maximum(cdf[..., -1:], 1e-12)
            idx = np.minimum(
                (rng.random(cdf.shape[:-1])[..., None] > cdf).sum(-1), column.width - 1
            )
            out[..., where] = np.eye(column.width, dtype=np.float32)[idx]
        elif column.kind == "boolean":
            out[..., where.start] = rng.random(raw.shape[:-1]) < raw[..., where.start]
    for index in layout.masks.values():
        out[..., index] = rng.random(raw.shape[:-1]) < raw[..., index]
    return out


def _tvd(real: pd.Series, fake: pd.Series) -> float:
    p = real.dropna().astype(str).value_counts(normalize=True)
    q = fake.dropna().astype(str).value_counts(normalize=True)
    keys = p.index.union(q.index)
    return float(0.5 * np.abs(p.reindex(keys, fill_value=0) - q.reindex(keys, fill_value=0)).sum())


def column_checks(spec: TableSpec, real: pd.DataFrame, fake: pd.DataFrame) -> dict[str, Any]:
    checks: dict[str, Any] = {}
    for column in spec.columns:
        r, f = real[column.name], fake[column.name]
        entry: dict[str, Any] = {
            "kind": column.kind,
            "static": column.static,
            "missing_share_real": float(r.isna().mean()),
            "missing_share_synthetic": float(f.isna().mean()),
        }
        if column.kind == "categorical":
            entry["frequency_tvd"] = _tvd(r, f)
            entry["unknown_categories"] = int((~f.dropna().isin(column.categories or [])).sum())
        elif column.kind == "boolean":
            rb = r.dropna().astype(str).str.lower().isin(["true", "1", "1.0", "yes", "t", "y"])
            entry["true_share_real"] = float(rb.mean())
            entry["true_share_synthetic"] = float(f.dropna().astype(bool).mean())
        elif column.kind in NUMERIC:
            rv = pd.to_numeric(r, errors="coerce").dropna().to_numpy(dtype=np.float64)
            fv = pd.to_numeric(f, errors="coerce").dropna().to_numpy(dtype=np.float64)
            low, high = column.unscale(np.array([0.0, 1.0]))
            entry.update(
                {
                    "mean_real": float(rv.mean()),
                    "mean_synthetic": float(fv.mean()) if fv.size else None,
                    "std_real": float(rv.std()),
                    "std_synthetic": float(fv.std()) if fv.size else None,
                    "ks_statistic": float(ks_2samp(rv, fv).statistic) if fv.size else 1.0,
                    "out_of_bounds_share": float(((fv < low) | (fv > high)).mean())
                    if fv.size
                    else 0.0,
                    "bounds": [float(low), float(high)],
                }
            )
            if column.kind in ("integer", "count"):
                entry["integer_share"] = float((np.floor(fv) == fv).mean()) if fv.size else 1.0
        checks[column.name] = entry
    return checks


def length_checks(spec: TableSpec, real: pd.DataFrame, fake: pd.DataFrame) -> dict[str, Any]:
    rl = real.groupby(spec.id_column).size().to_numpy()
    fl = fake.groupby(spec.id_column).size().to_numpy()
    out: dict[str, Any] = {
        "entities_real": int(len(rl)),
        "entities_synthetic": int(len(fl)),
        "mean_length_real": float(rl.mean()),
        "mean_length_synthetic": float(fl.mean()),
        "length_ks_statistic": float(ks_2samp(rl, fl).statistic),
    }
    if spec.time is not None:

        def median_gap(frame: pd.DataFrame, stamps: pd.Series) -> float:
            t = stamps.to_numpy(dtype=np.float64)
            same = frame[spec.id_column].to_numpy()[1:] == frame[spec.id_column].to_numpy()[:-1]
            return float(np.median(np.diff(t)[same]))

        fake_t = fake[spec.time_column]
        if spec.time.kind == "datetime":
            fake_t = fake_t.astype("datetime64[s]").astype("int64")
        out["median_gap_real"] = median_gap(real, real["__t"])
        out["median_gap_synthetic"] = median_gap(fake, fake_t.astype("float64"))
    return out


def evaluate_table(config: RunConfig, graph: TableGraph) -> dict[str, Any]:
    data = load_table(config.data)
    spec = data.spec
    e = config.eval
    shortest = min(len(x) for x, _ in data.entities)
    length = max(2, min(data.seq_len, shortest))
    windows, conditions = real_windows(data, length, config.seed)
    half = len(windows) // 2
    real, real_other = windows[:half], windows[half:]
    run = _torch_runner(graph)
    g = torch.Generator().manual_seed(config.seed + 7)
    noise = torch.randn(half, length, config.model.latent_dim, generator=g).numpy()
    # Synthetic windows under the real windows' own static conditions.
    raw = run(noise, conditions[:half])
    fake = hard_channels(spec, raw, np.random.default_rng(config.seed + 11))
    layout = channel_layout(spec)
    names = [
        f"{c.name}={k}" if c.kind == "categorical" else c.name
        for c in spec.dynamic
        for k in (c.categories if c.kind == "categorical" else [None])  # type: ignore[union-attr]
    ]
    names += [f"{name} observed" for name in layout.masks] + (["gap"] if layout.gap else [])
    projection_figure(
        real, fake, names, config.name, config.run_dir / "projection.png", seed=config.seed
    )
    report = generation_report(
        real,
        fake,
        real_other,
        runs=e.runs,
        disc_steps=e.disc_steps,
        pred_steps=e.pred_steps,
        batch_size=e.batch_size,
        seed=config.seed,
    )
    report["eval_window_length"] = length
    n_entities = max(len(data.entities), 200)
    decoded = synthesize(
        spec, run, latent_dim=config.model.latent_dim, n=n_entities, seed=config.seed
    )
    fake_table = decoded.to_arrow(spec).to_pandas()
    report["columns"] = column_checks(spec, data.frame, fake_table)
    report["lengths"] = length_checks(spec, data.frame, fake_table)
    return report
