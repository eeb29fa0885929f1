"""Heavy-tailed panel (issue #15): does `rnngan train --data` at its defaults reproduce a panel
whose entity levels span five orders of magnitude, or collapse onto the bottom of the range?

The panel comes from data we have: the hourly means of data/internet_traffic_a5m.csv
(5-minute internet traffic) cut into 50 overlapping 96-hour entities, each multiplied by a level
factor log-spaced over 1e-2 … 1e3 (entity order shuffled) and by 5 % multiplicative noise. It is
trained with `rnngan train --data … --id-col site --time-col hour` (defaults, `--steps` short),
evaluated with `rnngan evaluate`, and synthetic entities are compared with the real ones in real
units: lag-24 autocorrelation (mean over entities of each entity's own ACF), per-entity level
(log10 of the entity mean: KS and quantiles) and spread (per-entity coefficient of variation),
distinct values per entity, plus the evaluation's verdict.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python -m benchmarks.heavy_panel --steps 1500
writes benchmarks/results/heavy_panel.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

from benchmarks.common import environment

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "data" / "internet_traffic_a5m.csv"
N_ENTITIES, LENGTH = 50, 96


def build_panel(path: Path, seed: int = 0) -> pd.DataFrame:
    raw = pd.read_csv(SOURCE, parse_dates=["date"]).set_index("date")["value"]
    hourly = raw.resample("h").mean().interpolate().to_numpy()
    rng = np.random.default_rng(seed)
    starts = np.linspace(0, len(hourly) - LENGTH, N_ENTITIES).astype(int)
    levels = 10 ** np.linspace(-2, 3, N_ENTITIES)
    rng.shuffle(levels)
    frames = []
    for k, (start, level) in enumerate(zip(starts, levels, strict=True)):
        piece = hourly[start : start + LENGTH] / hourly.mean()
        values = level * piece * np.exp(0.05 * rng.standard_normal(LENGTH))
        frames.append(
            pd.DataFrame(
                {
                    "site": f"s{k:02d}",
                    "hour": pd.date_range("2025-01-01", periods=LENGTH, freq="h")
                    + pd.Timedelta(hours=int(start)),
                    "traffic": values,
                }
            )
        )
    frame = pd.concat(frames, ignore_index=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return frame


def acf_at(x: np.ndarray, lag: int) -> float:
    x = x - x.mean()
    var = float((x**2).sum())
    return float((x[lag:] * x[:-lag]).sum() / var) if var > 0 and len(x) > lag else float("nan")


def entity_figures(frame: pd.DataFrame, id_col: str, col: str) -> dict[str, np.ndarray]:
    groups = [g[col].to_numpy(dtype=np.float64) for _, g in frame.groupby(id_col, sort=False)]
    return {
        "acf24": np.asarray([acf_at(g, 24) for g in groups]),
        "log10_level": np.log10(np.maximum([g.mean() for g in groups], 1e-12)),
        "cv": np.asarray([g.std() / g.mean() if g.mean() > 0 else 0.0 for g in groups]),
        "distinct": np.asarray([len(np.unique(np.round(g, 12))) for g in groups]),
        "global_min_share": np.asarray(
            [np.mean(np.abs(g - frame[col].min()) <= 0.01 * np.ptp(frame[col])) for g in groups]
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "heavy_panel_bench")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/heavy_panel.json")
    args = parser.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    data = args.work / "heavy_panel.csv"
    real = build_panel(data)
    rnngan = [str(Path(sys.executable).with_name("rnngan"))]
    train_cmd = [
        *rnngan, "train", "--data", str(data), "--id-col", "site", "--time-col", "hour",
        "--name", "heavy_panel", "--out-dir", str(args.work), "--steps", str(args.steps),
    ]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(train_cmd, check=True)
    train_s = time.perf_counter() - started
    run_dir = args.work / "heavy_panel"
    started = time.perf_counter()
    evaluate_cmd = [*rnngan, "evaluate", "--run", str(run_dir)]
    subprocess.run(evaluate_cmd, check=True, stdout=subprocess.DEVNULL)
    eval_s = time.perf_counter() - started
    metrics = json.loads((run_dir / "metrics.json").read_text())
    fake_path = args.work / "heavy_panel_synthetic.csv"
    # The exported model is what ships: export (forced, so a failed verdict still lets us look)
    # into a scratch repository and generate from it as a user would.
    models = args.work / "models"
    subprocess.run(
        [*rnngan, "export", "--run", str(run_dir), "--models-dir", str(models), "--force"],
        check=True,
    )
    subprocess.run(
        [*rnngan, "generate", "--model", "heavy_panel", "--models-dir", str(models),
         "--out", str(fake_path), "--n", str(N_ENTITIES * 4), "--seed", "1"],
        check=True,
    )  # fmt: skip
    fake = pd.read_csv(fake_path)
    r = entity_figures(real, "site", "traffic")
    f = entity_figures(fake, "site", "traffic")
    quantiles = [0.05, 0.25, 0.5, 0.75, 0.95]
    out = {
        "command": "rnngan " + " ".join(train_cmd[1:]).replace(str(ROOT) + "/", ""),
        "steps": args.steps,
        "train_seconds": round(train_s, 1),
        "evaluate_seconds": round(eval_s, 1),
        "entities": {"real": N_ENTITIES, "synthetic": int(fake["site"].nunique())},
        "acf_lag24_mean": {
            "real": float(np.nanmean(r["acf24"])),
            "synthetic": float(np.nanmean(f["acf24"])),
        },
        "log10_level_quantiles": {
            "q": quantiles,
            "real": np.quantile(r["log10_level"], quantiles).round(3).tolist(),
            "synthetic": np.quantile(f["log10_level"], quantiles).round(3).tolist(),
        },
        "level_ks": float(ks_2samp(r["log10_level"], f["log10_level"]).statistic),
        "cv_median": {"real": float(np.median(r["cv"])), "synthetic": float(np.median(f["cv"]))},
        "distinct_per_entity_median": {
            "real": float(np.median(r["distinct"])),
            "synthetic": float(np.median(f["distinct"])),
        },
        "share_within_1pct_of_global_min": {
            "real": float(np.mean(r["global_min_share"])),
            "synthetic": float(np.mean(f["global_min_share"])),
        },
        "verdict": metrics.get("verdict"),
        "discriminative": metrics.get("discriminative"),
        "discriminative_real_floor": metrics.get("discriminative_real_floor"),
        "discriminative_zscored": metrics.get("quality", {}).get("discriminative_zscored"),
        "discriminative_zscored_real_floor": metrics.get("quality", {}).get(
            "discriminative_zscored_real_floor"
        ),
        "autocorrelation_error": metrics.get("autocorrelation_error"),
        "autocorrelation_error_real_floor": metrics.get("autocorrelation_error_real_floor"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
            "torch_threads": 1,
            "note": "2 CPU cores shared with other work",
        },
        "environment": environment(torch_threads=1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
