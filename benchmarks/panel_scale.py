"""`make bench-panel-scale`: the panel forecaster at the scale issue #16 sets (a panel of ~400
series × ~900 hourly steps trained at the defaults in ≤ 20 minutes on the 2 cores), run as a
user runs it: a long table of 400 hourly series of 700-960 rows (pieces of ETTh1, the energy
set and the internet traffic in data/, each multiplied by a level in 1e-2 … 1e3; pieces of one
source may overlap), `rnngan train --data … --task forecast --horizon 48` at the defaults, then
`rnngan evaluate` (AutoETS on its default `--max-entities` subsample). Records each command's
wall time and peak memory, and the ratios to the seasonal naive beside AutoETS's. Further seeds
run the same config in-process (the command line has no --seed), as bench-panel's do.
Writes benchmarks/results/panel_scale.json and a block in docs/forecast.md.

    python -m benchmarks.panel_scale [--series 400] [--seeds 0 1] [--work DIR] [--steps N]
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.common import (
    code_line,
    environment,
    hardware,
    run_cli,
    setup_logging,
    write_block,
)
from benchmarks.panel import DATA, _energy_hourly, _long, _ms, train_forecaster

RESULTS = Path("benchmarks/results/panel_scale.json")
DOC = Path("docs/forecast.md")
BEGIN, END = "<!-- bench-panel-scale:begin -->", "<!-- bench-panel-scale:end -->"
HORIZON = 48
TARGET_S = 20 * 60  # the training budget


def scale_table(n_series: int, seed: int = 400) -> pd.DataFrame:
    """The long table (id, date, value): `n_series` pieces of 700-960 hourly rows."""
    rng = np.random.default_rng(seed)
    tr = pd.read_csv(DATA / "internet_traffic_a5m.csv", parse_dates=["date"]).set_index("date")
    tr = tr["value"].astype(np.float64).resample("1h").mean().interpolate().to_frame("traffic")
    ett = pd.read_csv(DATA / "ETTh1.csv", parse_dates=["date"]).set_index("date")
    sources = [ett, _energy_hourly(), tr]
    counts = np.round(np.array([0.5, 0.425, 0.075]) * n_series).astype(int)
    counts[0] += n_series - counts.sum()
    frames = []
    for df, k in zip(sources, counts, strict=True):
        for m in range(int(k)):
            col = df.columns[rng.integers(len(df.columns))]
            n = int(rng.integers(700, 961))
            start = int(rng.integers(0, len(df) - n))
            level = 10.0 ** rng.uniform(-2, 3)
            seg = df[col].iloc[start : start + n].astype(np.float64) * level
            frames.append((f"{col}_{m}@{seg.index[0]:%Y%m%d%H}", seg))
    return _long(frames)


def _peak_child_mib() -> float:
    """Peak resident memory of the largest child process so far (MiB)."""
    return round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)


def run(n_series: int, seeds: list[int], work: Path, steps: int | None = None) -> dict[str, Any]:
    from training.evaluate.run import evaluate_run

    table = work / "scale.csv"
    frame = scale_table(n_series)
    frame.to_csv(table, index=False)
    rows = frame.groupby("id").size()
    runs = []
    for seed in seeds:
        name = f"panel_scale_s{seed}"
        run_dir = work / "runs" / name
        started = time.perf_counter()
        train_forecaster(table, HORIZON, name, seed, work / "runs", steps, quiet=True)
        train_wall = time.perf_counter() - started
        started = time.perf_counter()
        if seed == 0:
            run_cli("evaluate", "--run", str(run_dir), quiet=True)
            metrics = json.loads((run_dir / "metrics.json").read_text())
        else:
            metrics = evaluate_run(run_dir)
        info = json.loads((run_dir / "training.json").read_text())
        runs.append(
            {
                "seed": seed,
                "via": "command line" if seed == 0 else "in-process",
                "train_wall_seconds": round(train_wall, 1),
                "train_seconds": info["seconds"],
                "evaluate_wall_seconds": round(time.perf_counter() - started, 1),
                "peak_child_rss_mib": _peak_child_mib() if seed == 0 else None,
                "vs_seasonal_naive": metrics["vs_seasonal_naive"],
                "verdict": metrics["verdict"]["line"],
            }
        )
    return {
        "series": int(len(rows)),
        "rows": {"min": int(rows.min()), "max": int(rows.max()), "total": int(rows.sum())},
        "horizon": HORIZON,
        "target_train_seconds": TARGET_S,
        "runs": runs,
    }


def block_text(result: dict[str, Any]) -> str:
    runs, env = result["runs"], result["environment"]
    gan = [r["vs_seasonal_naive"]["gan"] for r in runs]
    ets = runs[0]["vs_seasonal_naive"].get("AutoETS")
    train_wall = [r["train_wall_seconds"] for r in runs]
    rows = result["rows"]
    lines = [
        BEGIN,
        f"## A panel of {result['series']} series (`make bench-panel-scale`)",
        "",
        "Produced by `benchmarks/panel_scale.py`; do not edit by hand. "
        f"{result['series']} hourly series of {rows['min']}-{rows['max']} rows "
        f"({rows['total']:,} in all), H = {result['horizon']}: `rnngan train --data … --task "
        "forecast` at the defaults, then `rnngan evaluate` (seed 0 through the command line, "
        "further seeds in-process). Wall times on the machine below, one torch thread, "
        "OMP_WAIT_POLICY=PASSIVE; the issue's budget for training is "
        f"{result['target_train_seconds'] // 60} minutes.",
        "",
        "| seed | train wall s | evaluate wall s | peak RSS MiB | GAN MASE ratio | "
        "GAN CRPS ratio | 80 % cov | beats SN (MASE) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r, g in zip(runs, gan, strict=True):
        rss = r["peak_child_rss_mib"] if r["peak_child_rss_mib"] is not None else "—"
        lines.append(
            f"| {r['seed']} ({r['via']}) | {r['train_wall_seconds']} | "
            f"{r['evaluate_wall_seconds']} | {rss} | {g['mase_ratio']:.3f} | "
            f"{g['crps_ratio']:.3f} | {g['coverage_80']:.3f} | {g['share_beating_mase']:.3f} |"
        )
    lines += [
        "",
        f"Mean ± std over seeds: training {np.mean(train_wall):.0f} ± {np.std(train_wall):.0f} "
        "s wall; GAN MASE ratio "
        f"{_ms([g['mase_ratio'] for g in gan])}, CRPS ratio {_ms([g['crps_ratio'] for g in gan])}.",
    ]
    if ets:
        lines.append(
            f"AutoETS (seed {runs[0]['seed']}'s evaluation, {ets['series']} series): MASE ratio "
            f"{ets['mase_ratio']:.3f}, CRPS ratio {ets['crps_ratio']:.3f}, 80 % coverage "
            f"{ets['coverage_80']:.3f}."
        )
    lines += ["", f"Hardware: {hardware(env)}", "", code_line(env), END]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=400)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--work", type=Path, default=None, help="keep the table and runs here")
    parser.add_argument("--steps", type=int, default=None, help="override train.steps")
    parser.add_argument("--doc", action="store_true", help="only rewrite the doc from the results")
    args = parser.parse_args()
    setup_logging()
    if args.doc:
        write_block(DOC, BEGIN, END, block_text(json.loads(RESULTS.read_text())))
        return
    import torch

    torch.set_num_threads(1)
    env = environment(1)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        result = {"environment": env, **run(args.series, args.seeds, work, args.steps)}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    write_block(DOC, BEGIN, END, block_text(result))


if __name__ == "__main__":
    main()
