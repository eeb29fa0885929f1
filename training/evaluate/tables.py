"""Quality of a model trained on an own table: the benchmark report (discriminative, predictive,
ACF and cross-correlation errors on the model's channels) plus per-column checks on synthetic
tables decoded exactly as the service decodes them (rnngan/core/tables/sample.py `synthesize`).

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

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.stats import ks_2samp
from torch import nn

from rnngan.core.tables.codec import sample_categories
from rnngan.core.tables.sample import draw_series, synthesize
from rnngan.core.tables.spec import NUMERIC, TableSpec, channel_layout
from rnngan.core.tables.stamps import calendar_offset
from training.config import RunConfig
from training.data.tables import TableData, load_table
from training.evaluate.generation import report_and_picture
from training.evaluate.quality import LIMITS as QUALITY_LIMITS
from training.evaluate.quality import Limits

log = logging.getLogger("rnngan.evaluate")

MAX_EVAL_WINDOWS = 4000


def _torch_runner(graph: nn.Module):  # type: ignore[no-untyped-def]
    def run(noise: np.ndarray, condition: np.ndarray, chunk: int = 128) -> np.ndarray:
        """The graph over `chunk` series at a time (rows are independent), to bound memory."""
        with torch.no_grad():
            parts = [
                graph(
                    torch.from_numpy(noise[i : i + chunk]),
                    torch.from_numpy(condition[i : i + chunk]),
                ).numpy()
                for i in range(0, len(noise), chunk)
            ]
        return np.concatenate(parts)

    return run


def _windows(entities: list[np.ndarray], length: int, count: int, seed: int) -> np.ndarray:
    """`count` windows of `length` steps drawn at random (without replacement) from all
    sliding windows (stride 1) of the entities long enough; only the drawn windows are built
    (a few hundred long entities have millions of windows)."""
    long = [x for x in entities if len(x) >= length]
    per = np.asarray([len(x) - length + 1 for x in long], dtype=np.int64)
    ends = np.cumsum(per)
    rng = np.random.default_rng(seed)
    picks = rng.choice(int(ends[-1]), min(count, int(ends[-1])), replace=False)
    which = np.searchsorted(ends, picks, side="right")
    starts = picks - (ends[which] - per[which])
    return np.stack([long[e][s : s + length] for e, s in zip(which, starts, strict=True)]).astype(
        np.float32
    )


@dataclass(frozen=True)
class EvalLimits:
    """How much of a table the evaluation looks at (`rnngan evaluate --max-entities
    --max-windows`): real and synthetic entities, and windows per classifier side."""

    max_entities: int = 200
    max_windows: int = 1000


LIMITS = EvalLimits()


@contextmanager
def eval_limits(limits: EvalLimits) -> Iterator[None]:
    global LIMITS
    saved, LIMITS = LIMITS, limits
    try:
        yield
    finally:
        LIMITS = saved


def real_windows(data: TableData, length: int, seed: int) -> np.ndarray:
    """Up to MAX_EVAL_WINDOWS windows of `length` steps of the training entities' channels."""
    return _windows([x for x, _ in data.entities], length, MAX_EVAL_WINDOWS, seed)


def synthetic_windows(
    spec: TableSpec, run: Any, latent_dim: int, *, n: int, length: int, seed: int, count: int
) -> np.ndarray:
    """Windows of synthetic entities in channel space, discrete channels sampled."""
    raw, lengths, _, _, _ = draw_series(
        spec, run, latent_dim=latent_dim, n=n, seed=seed, min_steps=length
    )
    lengths = np.maximum(lengths, length)
    hard = hard_channels(spec, raw, np.random.default_rng(seed))
    return _windows([hard[i, : lengths[i]] for i in range(n)], length, count, seed)


def hard_channels(spec: TableSpec, raw: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Discrete channels of generator output sampled to 0/1 (one-hot for categories), as real
    data have them; numeric channels unchanged."""
    layout = channel_layout(spec)
    out = raw.copy()
    for column in spec.dynamic:
        where = layout.values[column.name]
        if column.kind == "categorical":
            idx = sample_categories(raw[..., where], rng.random(raw.shape[:-1]))
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


def entity_checks(
    spec: TableSpec, real: pd.DataFrame, fake: pd.DataFrame, limits: Limits = QUALITY_LIMITS
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Per numeric dynamic column, per entity, real vs synthetic: the level (each entity's mean:
    KS between the two sets of entity means), the spread (median over entities of each entity's
    std, synthetic / real) and the distinct values per entity (median, synthetic / real). Returns
    the figures per column and the checks that join the verdict."""
    figures: dict[str, Any] = {}
    checks: list[dict[str, Any]] = []
    rid, fid = real[spec.id_column], fake[spec.id_column]
    for column in spec.dynamic:
        if column.kind not in NUMERIC:
            continue
        r = pd.to_numeric(real[column.name], errors="coerce").groupby(rid.to_numpy())
        f = pd.to_numeric(fake[column.name], errors="coerce").groupby(fid.to_numpy())
        r_mean, f_mean = r.mean().dropna().to_numpy(), f.mean().dropna().to_numpy()
        r_std, f_std = r.std(ddof=0).dropna(), f.std(ddof=0).dropna()
        r_distinct, f_distinct = r.nunique().to_numpy(), f.nunique().to_numpy()
        if not (len(r_mean) and len(f_mean)):
            continue
        level_ks = float(ks_2samp(r_mean, f_mean).statistic)
        real_spread = float(np.median(r_std)) if len(r_std) else 0.0
        spread = float(np.median(f_std)) / real_spread if real_spread > 1e-12 else 1.0
        real_nd = float(np.median(r_distinct))
        distinct = float(np.median(f_distinct)) / real_nd if real_nd > 0 else 1.0
        figures[column.name] = {
            "entity_level_ks": level_ks,
            "entity_std_median_real": real_spread,
            "entity_std_median_synthetic": float(np.median(f_std)) if len(f_std) else None,
            "entity_distinct_median_real": real_nd,
            "entity_distinct_median_synthetic": float(np.median(f_distinct)),
        }
        if len(r_mean) >= 2:
            checks.append(
                {
                    "name": f"{column.name}: per-entity level KS",
                    "value": level_ks,
                    "passed": level_ks <= 2 * limits.ks_max,
                    "rule": f"<= {2 * limits.ks_max}",
                }
            )
        if real_spread > 1e-12:
            checks.append(
                {
                    "name": f"{column.name}: per-entity spread (synthetic / real)",
                    "value": spread,
                    "passed": limits.spread_low <= spread <= limits.spread_high,
                    "rule": f"in [{limits.spread_low}, {limits.spread_high}]",
                }
            )
        if real_nd >= limits.distinct_real_min:
            checks.append(
                {
                    "name": f"{column.name}: distinct values per entity (synthetic / real)",
                    "value": distinct,
                    "passed": distinct >= limits.distinct_min,
                    "rule": f">= {limits.distinct_min}",
                }
            )
        ks = float(
            ks_2samp(
                pd.to_numeric(real[column.name], errors="coerce").dropna(),
                pd.to_numeric(fake[column.name], errors="coerce").dropna(),
            ).statistic
        )
        checks.append(
            {
                "name": f"{column.name}: KS statistic (real units)",
                "value": ks,
                "passed": ks <= limits.ks_max,
                "rule": f"<= {limits.ks_max}",
            }
        )
    return figures, checks


def evaluate_table(config: RunConfig, graph: nn.Module) -> dict[str, Any]:
    limits = LIMITS
    data = load_table(config.data)
    spec = data.spec
    total_entities = len(data.entities)
    keep = np.arange(total_entities)
    if total_entities > limits.max_entities:
        keep = np.sort(
            np.random.default_rng(config.seed).choice(
                total_entities, limits.max_entities, replace=False
            )
        )
        log.info(
            "evaluating on %d of %d entities (--max-entities)", limits.max_entities, total_entities
        )
        data = replace(data, entities=[data.entities[i] for i in keep])
    ids = data.frame[spec.id_column].drop_duplicates().to_numpy()[keep]
    frame = data.frame[data.frame[spec.id_column].isin(ids)]
    shortest = min(len(x) for x, _ in data.entities)
    length = max(2, min(data.seq_len, shortest))
    windows = real_windows(data, length, config.seed)
    half = len(windows) // 2
    real, real_other = windows[:half], windows[half:]
    run = _torch_runner(graph)
    # Noise values per step the graph reads (a coupled head reads more than `latent_dim`).
    latent_dim = getattr(getattr(graph, "generator", None), "noise_dim", config.model.latent_dim)
    n_entities = min(max(len(data.entities), 200), limits.max_entities)
    # Synthetic windows cut the same way from synthetic entities (lengths, static attributes
    # and noise drawn as the service draws them), so window position within an entity is
    # distributed alike in both.
    fake = synthetic_windows(
        spec,
        run,
        latent_dim,
        n=n_entities,
        length=length,
        seed=config.seed + 7,
        count=half,
    )
    layout = channel_layout(spec)
    names, numeric = [], []
    for c in spec.dynamic:
        for k in c.categories if c.kind == "categorical" else [None]:  # type: ignore[union-attr]
            names.append(f"{c.name}={k}" if k is not None else c.name)
            numeric.append(c.kind in NUMERIC)
    # On a calendar frequency the stamps a user gets are put on the calendar (stamps.py), so
    # the generator's raw gap channel (continuous where the real one takes a few values) is not
    # what is served: it is left out of the windows, and `length_checks` compares the decoded
    # gaps.
    gap = layout.gap is not None and calendar_offset(spec) is None
    names += [f"{name} observed" for name in layout.masks] + (["gap"] if gap else [])
    numeric += [False] * len(layout.masks) + ([True] if gap else [])
    if layout.gap is not None and not gap:
        keep = [i for i in range(real.shape[-1]) if i != layout.gap]
        real, real_other, fake = (w[..., keep] for w in (real, real_other, fake))
    decoded = synthesize(spec, run, latent_dim=latent_dim, n=n_entities, seed=config.seed)
    fake_table = decoded.to_arrow(spec).to_pandas()
    per_entity, extra = entity_checks(spec, frame, fake_table)
    report = report_and_picture(
        config,
        real,
        fake,
        real_other,
        names,
        numeric=numeric,
        extra_checks=extra,
        max_windows=limits.max_windows,
    )
    report["eval_window_length"] = length
    report["columns"] = column_checks(spec, frame, fake_table)
    for name, figures in per_entity.items():
        report["columns"][name].update(figures)
    report["lengths"] = length_checks(spec, frame, fake_table)
    report["subsampled"] = {
        "entities_real": len(data.entities),
        "entities_total": total_entities,
        "entities_synthetic": n_entities,
        "windows_per_side": min(limits.max_windows, half),
        "windows_available": half,
    }
    return report
