"""`make bench-panel`: the panel forecaster (training/families/panel_forecast.py) on five panels,
each through the user's path: a long table written to a temp dir, `rnngan train --data …
--task forecast` with the defaults (only --horizon set per panel), `rnngan evaluate`; beside
SeasonalNaive, AutoETS and AutoARIMA (statsforecast) on the same test windows. Ratios as
GIFT-Eval: per series model / seasonal naive (MASE, CRPS), geometric mean over series, and the
share of series below 1. Writes benchmarks/results/panel.json and a table in docs/forecast.md.

Panels (data in data/, see data/README.md):
- etth1: the 7 ETTh1 columns, hourly, H = 48;
- energy: the 28 columns of the UCI appliances-energy set resampled hourly, H = 24;
- mixed: 20 non-overlapping pieces (internet traffic, ETTh1, energy) of 340-1500 hours, each
  multiplied by a level in 1e-2 … 1e3, H = 24;
- short: 40 pieces of the same sources, 80-173 hours each as drawn (lengths drawn in 80-190;
  every one shorter than the default context + horizon, 168 + 12 rows), levels as in mixed,
  H = 12;
- macro: the 12 quarterly US series of statsmodels' bundled `macrodata` (1959-2009, 203
  quarters: GDP and its parts, prices, money, rates, unemployment, population), levels from
  -9 to 13,415, trending and not seasonal, H = 4: a panel unlike the hourly ones the defaults
  were tried on (statsmodels ships with statsforecast).

    python -m benchmarks.panel [--seeds 0 1] [--panels etth1 energy mixed short macro] [--steps N]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.common import (
    code_line,
    code_version,
    environment,
    hardware,
    run_cli,
    setup_logging,
    write_block,
)

DATA = Path(__file__).resolve().parents[1] / "data"
RESULTS = Path("benchmarks/results/panel.json")
TABLE = Path("docs/forecast.md")
BEGIN, END = "<!-- bench-panel:begin -->", "<!-- bench-panel:end -->"
HORIZON = {"etth1": 48, "energy": 24, "mixed": 24, "short": 12, "macro": 4}
# statsmodels' macrodata: its 12 quarterly series of levels and rates (the date columns left out)
MACRO = ["realgdp", "realcons", "realinv", "realgovt", "realdpi", "cpi", "m1", "tbilrate"]
MACRO += ["unemp", "pop", "infl", "realint"]
log = logging.getLogger("rnngan.bench")


def _energy_hourly() -> pd.DataFrame:
    df = pd.read_csv(DATA / "energy_data.csv")
    # The TimeGAN copy has no stamps; the UCI set starts 2016-01-11 17:00, every 10 minutes.
    df.index = pd.date_range("2016-01-11 17:00", periods=len(df), freq="10min")
    return df.resample("1h").mean().dropna()


def _long(frames: list[tuple[str, pd.Series]]) -> pd.DataFrame:
    return pd.concat(
        [pd.DataFrame({"id": n, "date": s.index, "value": s.to_numpy()}) for n, s in frames],
        ignore_index=True,
    )


def panel_table(name: str) -> pd.DataFrame:
    """The long table (id, date, value) of a panel."""
    if name == "etth1":
        df = pd.read_csv(DATA / "ETTh1.csv", parse_dates=["date"]).set_index("date")
        return _long([(c, df[c].astype(np.float64)) for c in df.columns])
    if name == "energy":
        df = _energy_hourly()
        return _long([(c, df[c].astype(np.float64)) for c in df.columns])
    if name == "macro":
        from statsmodels.datasets import macrodata

        df = macrodata.load_pandas().data
        df.index = pd.PeriodIndex.from_fields(
            year=df["year"].astype(int), quarter=df["quarter"].astype(int), freq="Q"
        ).to_timestamp()
        return _long([(c, df[c].astype(np.float64)) for c in MACRO])
    short = name == "short"
    rng = np.random.default_rng(17 if short else 16)
    tr = pd.read_csv(DATA / "internet_traffic_a5m.csv", parse_dates=["date"]).set_index("date")
    tr = tr["value"].astype(np.float64).resample("1h").mean().interpolate().to_frame("traffic")
    ett = pd.read_csv(DATA / "ETTh1.csv", parse_dates=["date"]).set_index("date")
    en = _energy_hourly()[
        ["Appliances", "T1", "RH_1", "T_out", "Press_mm_hg", "RH_out", "Windspeed"]
        + ["Visibility", "Tdewpoint"]
    ]
    srcs = [(tr, 3, (340, 410)), (ett, 8, (400, 1500)), (en, 9, (340, 365))]
    if short:  # as drawn, every series is shorter than the default context + horizon (180)
        srcs = [(tr, 6, (80, 190)), (ett, 16, (80, 190)), (en, 18, (80, 190))]
    levels = 10.0 ** np.linspace(-2, 3, sum(k for _, k, _ in srcs))
    rng.shuffle(levels)
    frames, j = [], 0
    for df, k, (lo, hi) in srcs:
        lens = rng.integers(lo, hi + 1, k)
        gaps = np.diff(np.sort(rng.integers(0, len(df) - lens.sum() + 1, k + 1)))
        start = 0
        for m in range(k):
            start += int(gaps[m])
            col = df.columns[m % len(df.columns)]
            seg = df[col].iloc[start : start + int(lens[m])].astype(np.float64) * levels[j]
            frames.append((f"{col}@{seg.index[0]:%Y%m%d}_x{levels[j]:.0e}", seg))
            start += int(lens[m])
            j += 1
    return _long(frames)


def train_forecaster(
    table: Path, horizon: int, name: str, seed: int, runs: Path, steps: int | None, **cli: bool
) -> None:
    """Seed 0: `rnngan train --data <table> --task forecast` exactly as a user types it (`cli`:
    run_cli's options); another seed: the same config in-process (the command line has no
    --seed)."""
    if seed == 0:
        extra = ["--steps", str(steps)] if steps else []
        run_cli("train", "--data", str(table), "--id-col", "id", "--time-col", "date",
                "--task", "forecast", "--target", "value", "--horizon", str(horizon),
                "--name", name, "--out-dir", str(runs), *extra, **cli)  # fmt: skip
        return
    from training.config_tables import table_config
    from training.train import train

    cfg = table_config(table, id_col="id", time_col="date", task="forecast", target="value",
                       horizon=horizon, name=name, out_dir=str(runs))  # fmt: skip
    cfg = dataclasses.replace(cfg, seed=seed)
    if steps:
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, steps=steps))
    train(cfg, progress=False)


def run_panel(
    name: str, seeds: list[int], work: Path, steps: int | None, reuse: bool = False
) -> dict[str, Any]:
    from training.checkpoint import load_run
    from training.evaluate.panel_baselines import baseline_blocks
    from training.evaluate.run import evaluate_run
    from training.evaluate.versus import compare

    table = work / f"{name}.csv"
    panel_table(name).to_csv(table, index=False)
    h = HORIZON[name]
    runs = []
    for seed in seeds:
        run_name = f"panel_{name}_s{seed}"
        run_dir = work / "runs" / run_name
        done = reuse and (run_dir / "metrics.json").is_file()
        if done:
            log.info("reusing %s", run_dir)
        else:
            train_forecaster(table, h, run_name, seed, work / "runs", steps)
        train_s = json.loads((run_dir / "training.json").read_text())["seconds"]
        started = time.perf_counter()
        if done:
            metrics = json.loads((run_dir / "metrics.json").read_text())
        elif seed == 0:
            run_cli("evaluate", "--run", str(run_dir))
            metrics = json.loads((run_dir / "metrics.json").read_text())
        else:
            metrics = evaluate_run(run_dir)
        ckpt = load_run(run_dir)
        runs.append(
            {
                "seed": seed,
                "train_seconds": train_s,
                "evaluate_seconds": None if done else round(time.perf_counter() - started, 1),
                "steps": ckpt.step,
                "selected_step": ckpt.selection.step if ckpt.selection else None,
                "season": ckpt.config.data.season,
                "calibration": metrics.get("calibration", {}).get("spread_scale"),
                "vs_seasonal_naive": metrics["vs_seasonal_naive"],
                "verdict": metrics["verdict"]["line"],
            }
        )
    # AutoARIMA (not in the defaults' evaluation) on the same windows, once per panel.
    from training.data.table_forecast import load_table_forecast
    from training.evaluate import forecast as fc

    ckpt = load_run(work / "runs" / f"panel_{name}_s{seeds[0]}")
    cfg = dataclasses.replace(
        ckpt.config, eval=dataclasses.replace(ckpt.config.eval, baselines=("AutoARIMA",))
    )
    d = cfg.data
    data = load_table_forecast(d)
    pairs = data.entity_origins("test", d.context_len, d.horizon)
    hist, truth, scales = data.origins("test", d.context_len, d.horizon)
    ids = np.concatenate([np.full(len(o), i) for i, (_, o) in enumerate(pairs)])
    sn_point = fc.seasonal_naive_point(hist, d.horizon, d.season) / scales[:, None]
    truth_s = truth / scales[:, None]
    blocks, mask, info = baseline_blocks(data, pairs, cfg)
    sn = fc.block(sn_point[None], sn_point, truth_s)
    arima = compare(
        {"gan": sn, "seasonal_naive": sn, **blocks},
        ids,
        [e.name for e, _ in pairs],
        calibrated=True,
        subsets={"AutoARIMA": mask},
    )["vs_seasonal_naive"]["AutoARIMA"]
    return {
        "panel": name,
        "series": len(pairs),
        "horizon": h,
        "test_windows": len(hist),
        "runs": runs,
        "AutoARIMA": {**arima, "seconds": info["seconds"]["AutoARIMA"]},
    }


def _ms(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def table(results: list[dict[str, Any]], env: dict[str, Any]) -> str:
    lines = [
        BEGIN,
        "## Panels (`make bench-panel`)",
        "",
        "Produced by `benchmarks/panel.py`; do not edit by hand. Each panel is a long table "
        "trained with `rnngan train --data … --task forecast` (defaults; `--horizon` per panel), "
        "evaluated with `rnngan evaluate`: each entity split by time 70/15/15, rolling origin "
        "every H rows over each test part. Ratios are per series model / seasonal naive on the "
        "same windows, geometric mean over series (GIFT-Eval; a series' ratio bounded to "
        "[0.01, 100], so one series forecast exactly cannot decide it); `beats SN` = share of "
        "series with ratio < 1. GAN: mean ± std over seeds.",
        "",
        "| panel | model | MASE ratio | CRPS ratio | 80 % cov | beats SN (MASE) | "
        "beats SN (CRPS) | notes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        p = f"{r['panel']} ({r['series']} series, H={r['horizon']}, {r['test_windows']} windows)"
        vs = [run["vs_seasonal_naive"] for run in r["runs"]]
        g = [v["gan"] for v in vs]
        notes = (
            f"seeds {[x['seed'] for x in r['runs']]}, season {r['runs'][0]['season']}, steps "
            f"{r['runs'][0]['steps']}, selected {[x['selected_step'] for x in r['runs']]}, "
            f"calibration {[x['calibration'] for x in r['runs']]}, train s "
            f"{[x['train_seconds'] for x in r['runs']]}"
        )
        lines.append(
            f"| {p} | GAN | {_ms([x['mase_ratio'] for x in g])} | "
            f"{_ms([x['crps_ratio'] for x in g])} | {_ms([x['coverage_80'] for x in g])} | "
            f"{_ms([x['share_beating_mase'] for x in g])} | "
            f"{_ms([x['share_beating_crps'] for x in g])} | {notes} |"
        )
        lines.append(f"| {p} | SeasonalNaive | 1.000 | 1.000 | — | 0 | 0 | |")
        for name, b in [("AutoETS", vs[0].get("AutoETS")), ("AutoARIMA", r["AutoARIMA"])]:
            if b is None:
                continue
            lines.append(
                f"| {p} | {name} | {b['mase_ratio']:.3f} | {b['crps_ratio']:.3f} | "
                f"{b['coverage_80']:.3f} | {b['share_beating_mase']:.3f} | "
                f"{b['share_beating_crps']:.3f} | {b.get('series')} series |"
            )
    lines += ["", "Hardware: " + hardware(env), "", code_line(env), END, ""]
    return "\n".join(lines)


def write_table(text: str) -> None:
    write_block(TABLE, BEGIN, END, text.rstrip("\n"))  # `table` ends with END and a newline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--panels", nargs="+", default=list(HORIZON))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--steps", type=int, default=None, help="override train.steps")
    parser.add_argument("--work", type=Path, default=None, help="keep tables and runs here")
    parser.add_argument("--reuse", action="store_true", help="keep runs already evaluated")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    setup_logging()
    import torch

    torch.set_num_threads(1)
    if args.one:
        result = run_panel(args.one, args.seeds, args.work, args.steps, args.reuse)
        result["code"] = code_version()  # each panel runs the modules as they are on disk then
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        env = environment(1)
        results: list[dict[str, Any]] = []
        for p in args.panels:  # written after each panel, so a cut run keeps what it measured
            # Each panel in a fresh process (the modules as they are on disk now).
            out = work / f"{p}.result.json"
            cmd = [sys.executable, "-m", "benchmarks.panel", "--one", p, "--work", str(work)]
            cmd += ["--seeds", *map(str, args.seeds), "--out", str(out)]
            cmd += ["--steps", str(args.steps)] if args.steps else []
            cmd += ["--reuse"] if args.reuse else []
            subprocess.run(cmd, check=True)
            results.append(json.loads(out.read_text()))
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            RESULTS.write_text(
                json.dumps({"environment": env, "results": results}, indent=2) + "\n"
            )
            write_table(table(results, env))
    log.info("wrote %s and the panel table in %s", RESULTS, TABLE)


if __name__ == "__main__":
    main()
