"""`make bench-short`: forecasting series shorter than the model's context (docs/api.md, Short
histories). A panel (bench-panel's `energy`: 28 hourly series, H = 24) is trained twice with
`rnngan train --data … --task forecast` defaults, once as is (`data.short_histories` on: the
default) and once with it off (what every forecaster was before), and evaluated with `rnngan
evaluate` (for the spread calibration). Then the test windows of every series are forecast
again with only the last L values of their history (L = one season … context_len; the rest
NaN, as the service pads a short request) and scored against the seasonal naive on the same
windows (which needs one season): MASE and CRPS ratios per series, geometric mean over series,
share of series below 1. The model trained without short histories is scored at L = context
only: the service refuses it anything shorter. Writes benchmarks/results/short.json and a block
in docs/forecast.md.

    python -m benchmarks.short [--seeds 0 1] [--panel energy] [--samples 100] [--reuse]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import (
    code_line,
    code_version,
    environment,
    hardware,
    setup_logging,
    write_block,
)
from benchmarks.panel import HORIZON, panel_table

RESULTS = Path("benchmarks/results/short.json")
DOC = Path("docs/forecast.md")
BEGIN, END = "<!-- bench-short:begin -->", "<!-- bench-short:end -->"
WORK = Path("runs/short")
log = logging.getLogger("rnngan.bench")


def _train(
    table: Path, panel: str, seed: int, short: bool, reuse: bool
) -> tuple[Path, float | None]:
    from training.checkpoint import CHECKPOINT
    from training.config_tables import table_config
    from training.train import train

    name = f"{panel}_{'short' if short else 'full'}_s{seed}"
    cfg = table_config(table, id_col="id", time_col="date", task="forecast", target="value",
                       horizon=HORIZON[panel], name=name, out_dir=str(WORK / "runs"))  # fmt: skip
    cfg = dataclasses.replace(cfg, seed=seed)
    if not short:
        cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, short_histories=False))
    if reuse and (cfg.run_dir / CHECKPOINT).is_file():
        log.info("reusing %s", cfg.run_dir)
        return cfg.run_dir, json.loads((cfg.run_dir / "training.json").read_text())["seconds"]
    started = time.perf_counter()
    train(cfg, progress=False)
    return cfg.run_dir, round(time.perf_counter() - started, 1)


def _score(run_dir: Path, lengths: list[int], samples: int) -> dict[str, Any]:
    """Per history length L: the model's ratios to the seasonal naive on the test windows."""
    import torch

    from rnngan.core.manifest import Calibration
    from training.checkpoint import load_run
    from training.data.table_forecast import load_table_forecast
    from training.evaluate.run import evaluate_run
    from training.evaluate.versus import block, block_from_paths, compare, seasonal_naive_point
    from training.families import family_for

    metrics = evaluate_run(run_dir)
    ckpt = load_run(run_dir)
    d = ckpt.config.data
    graph = family_for(ckpt.config).graph(ckpt).eval()
    # The same full-context test windows for both models (short_histories off: origins with
    # context_len rows before them).
    data = load_table_forecast(dataclasses.replace(d, short_histories=False))
    pairs = data.entity_origins("test", d.context_len, d.horizon)
    hist, truth, scales = data.origins("test", d.context_len, d.horizon)
    ids = np.concatenate([np.full(len(o), i) for i, (_, o) in enumerate(pairs)])
    names = [e.name for e, _ in pairs]
    truth_s = truth / scales[:, None]
    sn_point = seasonal_naive_point(hist, d.horizon, d.season) / scales[:, None]
    sn = block(sn_point[None], sn_point, truth_s)
    calibration = Calibration.model_validate(metrics["calibration"])
    out: dict[str, Any] = {}
    for length in lengths:
        cut = hist.copy()
        cut[:, : d.context_len - length] = np.nan
        g = torch.Generator().manual_seed(ckpt.config.seed + 11)
        paths = []
        for a in range(0, len(cut), 256):
            h = torch.from_numpy(cut[a : a + 256].astype(np.float32))
            noise = torch.randn(
                len(h), samples, d.horizon, ckpt.config.model.latent_dim, generator=g
            )
            with torch.no_grad():
                paths.append(graph(h, noise).double().numpy())
        p = calibration.apply(np.concatenate(paths)) / scales[:, None, None]
        if not np.isfinite(p).all():
            raise RuntimeError(f"non-finite forecasts at history length {length}")
        v = compare(
            {"gan": block_from_paths(p, truth_s), "seasonal_naive": sn},
            ids,
            names,
            calibrated=True,
        )["vs_seasonal_naive"]["gan"]
        out[str(length)] = {
            "mase": v["mase_ratio"],
            "crps": v["crps_ratio"],
            "beats_mase": v["share_beating_mase"],
            "beats_crps": v["share_beating_crps"],
            "coverage_80": v["coverage_80"],
        }
        log.info("%s L=%d: %s", run_dir.name, length, out[str(length)])
    return {
        "windows": len(hist),
        "series": len(pairs),
        "season": d.season,
        "context_len": d.context_len,
        "calibration": calibration.spread_scale,
        "selected_step": ckpt.selection.step if ckpt.selection else None,
        "steps": ckpt.step,
        "by_length": out,
    }


def _ms(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def block_text(result: dict[str, Any]) -> str:
    runs = result["runs"]
    first = runs[0]["short"]
    season, context = first["season"], first["context_len"]
    lines = [
        BEGIN,
        "## Short histories (`make bench-short`)",
        "",
        "Produced by `benchmarks/short.py`; do not edit by hand. Panel "
        f"`{result['panel']}` (bench-panel's; {first['series']} series, H = "
        f"{result['horizon']}, {first['windows']} test windows), trained with `rnngan train "
        "--data … --task forecast` defaults (short histories on) and again with "
        "`data.short_histories = false` (the forecaster before); each test window forecast with "
        f"only the last L values of its history (the rest NaN, as the service pads a request; "
        f"season {season}, context_len {context}). Ratios per series to the seasonal naive on "
        "the same windows, geometric mean over series; `beats SN` = share of series below 1. "
        f"Mean ± std over seeds {result['seeds']}; {result['samples']} sample paths, the spread "
        "calibration of `rnngan evaluate` applied.",
        "",
        "| model | history L | MASE ratio | CRPS ratio | beats SN (MASE) | beats SN (CRPS) "
        "| 80 % coverage |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, label in (("short", "default (short histories)"), ("full", "short histories off")):
        for length in runs[0][kind]["by_length"]:
            got = [r[kind]["by_length"][length] for r in runs]
            lines.append(
                f"| {label} | {length} | {_ms([g['mase'] for g in got])} | "
                f"{_ms([g['crps'] for g in got])} | {_ms([g['beats_mase'] for g in got])} | "
                f"{_ms([g['beats_crps'] for g in got])} | "
                f"{_ms([g['coverage_80'] for g in got])} |"
            )
    lines.append("")
    lines.append(
        "Training: "
        + "; ".join(
            f"seed {r['seed']}: {k} {r[k + '_train_seconds']} s, selected step "
            f"{r[k]['selected_step']} of {r[k]['steps']}"
            for r in runs
            for k in ("short", "full")
        )
        + "."
    )
    env = result["environment"]
    lines += ["", f"Hardware: {hardware(env)}", "", code_line(env), END]
    return "\n".join(lines)


def write_doc(block: str) -> None:
    write_block(DOC, BEGIN, END, block)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--panel", default="energy", choices=sorted(HORIZON))
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--reuse", action="store_true", help="keep runs already trained here")
    parser.add_argument("--doc", action="store_true", help="only rewrite the doc from the results")
    args = parser.parse_args()
    setup_logging()
    if args.doc:
        write_doc(block_text(json.loads(RESULTS.read_text())))
        return
    import torch

    torch.set_num_threads(1)
    WORK.mkdir(parents=True, exist_ok=True)
    table = WORK / f"{args.panel}.csv"
    panel_table(args.panel).to_csv(table, index=False)
    version = code_version()
    runs = []
    for seed in args.seeds:
        row: dict[str, Any] = {"seed": seed}
        for short in (True, False):
            kind = "short" if short else "full"
            run_dir, seconds = _train(table, args.panel, seed, short, args.reuse)
            row[f"{kind}_train_seconds"] = seconds
            row[kind] = run_dir  # scored below, once the season is known
        from training.checkpoint import load_run

        d = load_run(row["short"]).config.data
        lengths = sorted({d.season, 2 * d.season, d.context_len // 2, d.context_len})
        row["short"] = _score(row["short"], lengths, args.samples)
        row["full"] = _score(row["full"], [d.context_len], args.samples)
        runs.append(row)
    result = {
        "panel": args.panel,
        "horizon": HORIZON[args.panel],
        "seeds": args.seeds,
        "samples": args.samples,
        "runs": runs,
        "environment": {**environment(1), **version},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    write_doc(block_text(result))
    log.info("wrote %s and %s", RESULTS, DOC)


if __name__ == "__main__":
    main()
