"""`make bench-static`: do static attributes help the panel forecaster (#16.2)?

A synthetic panel whose seasonal shape depends on a static attribute (examples/tables.py
`static_panel`: hourly load of buildings of three kinds, office / home / shop, each kind with its
own daily and weekly shape, each building at its own level, noise of 15 % of the level; a second
attribute, floors, scales the level only) is trained through the user's path with the same seed
and the `rnngan train --data … --task forecast` defaults, once without and once with
`--static-cols kind,floors`, the same two with `--calendar auto`, and those with two days of
history (`--context-len 48`: too little to see a kind's weekly shape); each is scored by
`rnngan evaluate` on the same test windows (per series model / seasonal naive, geometric mean
over series, GIFT-Eval's way). Each panel seed is a new panel (levels, floors,
noise); the figures are per seed and their mean. Writes benchmarks/results/statics.json and a
table in docs/forecast.md (between the bench-static markers).

    python -m benchmarks.statics [--entities 12] [--rows 1440] [--steps 1200] [--seeds 0 1]
                                 [--variants none static ...] [--jobs 2]
    python -m benchmarks.statics --render     # the table again, from the JSON
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import code_line, environment, hardware, run_cli, setup_logging, write_block
from examples.tables import static_panel

RESULTS = Path("benchmarks/results/statics.json")
TABLE = Path("docs/forecast.md")
BEGIN, END = "<!-- bench-static:begin -->", "<!-- bench-static:end -->"
VARIANTS: dict[str, list[str]] = {
    "none": [],
    "static": ["--static-cols", "kind,floors"],
    "calendar": ["--calendar", "auto"],
    "calendar+static": ["--calendar", "auto", "--static-cols", "kind,floors"],
    # two days of history: too little to see a kind's weekly shape, which the attribute names
    "calendar, context 48": ["--calendar", "auto", "--context-len", "48"],
    "calendar+static, context 48": [
        "--calendar", "auto", "--static-cols", "kind,floors", "--context-len", "48",
    ],
}  # fmt: skip
log = logging.getLogger("rnngan.bench")


def _one(tmp: Path, data: Path, seed: int, name: str, steps: int) -> dict[str, Any]:
    run_name = f"static_{seed}_" + "".join(c if c.isalnum() else "_" for c in name)
    started = time.perf_counter()
    run_cli(
        "train", "--data", str(data), "--id-col", "building", "--time-col", "time",
        "--task", "forecast", "--target", "load", "--horizon", "24",
        "--steps", str(steps), "--out-dir", str(tmp), "--name", run_name,
        *VARIANTS[name], quiet=True,
    )  # fmt: skip
    trained = time.perf_counter() - started
    run_cli("evaluate", "--run", str(tmp / run_name), quiet=True)
    metrics = json.loads((tmp / run_name / "metrics.json").read_text())
    vs = metrics["vs_seasonal_naive"]
    return {
        "args": VARIANTS[name],
        "gan_mase_ratio": vs["gan"]["mase_ratio"],
        "gan_crps_ratio": vs["gan"]["crps_ratio"],
        "gan_coverage_80": vs["gan"].get("coverage_80"),
        "autoets_mase_ratio": vs.get("AutoETS", {}).get("mase_ratio"),
        "test_mase": metrics["test_mase"],
        "test_crps": metrics["test_crps"],
        "n_windows": metrics["n_windows"],
        "selected_step": _selected(tmp / run_name),
        "train_s": round(trained, 1),
    }


def _selected(run_dir: Path) -> int | None:
    import torch

    ckpt = torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=False)
    return ckpt.get("selected_step")


def run(
    entities: int, rows: int, steps: int, seeds: list[int], variants: list[str], jobs: int
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tasks = []
        for seed in seeds:
            data = Path(tmp) / f"buildings_{seed}.csv"
            static_panel(seed=seed, entities=entities, rows=rows).to_csv(data, index=False)
            tasks += [(seed, name, data) for name in variants]
        with ThreadPoolExecutor(jobs) as pool:
            done = list(pool.map(lambda t: _one(Path(tmp), t[2], t[0], t[1], steps), tasks))
        for (seed, name, _), result in zip(tasks, done, strict=True):
            out.setdefault(name, {"args": VARIANTS[name], "seeds": {}})["seeds"][str(seed)] = result
            log.info("seed %d %s: %s", seed, name, result)
    for row in out.values():
        per = list(row["seeds"].values())
        for key in ("gan_mase_ratio", "gan_crps_ratio", "gan_coverage_80", "test_mase"):
            row[key] = float(np.mean([p[key] for p in per]))
    return out


def render(report: dict[str, Any]) -> str:
    hw = report["hardware"]
    seeds = list(next(iter(report["results"].values()))["seeds"])
    lines = [
        BEGIN,
        "## Static attributes (`make bench-static`)",
        "",
        "Produced by `benchmarks/statics.py`; do not edit by hand. "
        f"Panel: {report['panel']}. {report['protocol']}.",
        "",
        "| inputs | MASE ratio | CRPS ratio | 80 % cov | pooled MASE "
        "| per seed MASE / CRPS ratio |",
        "|---|---|---|---|---|---|",
    ]
    for r in report["results"].values():
        args = f"`{' '.join(r['args'])}`" if r["args"] else "none"
        per = "; ".join(
            f"{s}: {p['gan_mase_ratio']:.3f} / {p['gan_crps_ratio']:.3f}"
            for s, p in r["seeds"].items()
        )
        lines.append(
            f"| {args} | {r['gan_mase_ratio']:.3f} | {r['gan_crps_ratio']:.3f} | "
            f"{r['gan_coverage_80']:.3f} | {r['test_mase']:.3f} | {per} |"
        )
    first = next(iter(report["results"].values()))["seeds"][seeds[0]]
    lines += [
        "",
        f"Mean over panel seeds {', '.join(seeds)}; {first['n_windows']} test windows per seed; "
        "ratios are per series to the seasonal naive on the same windows, geometric mean over "
        "series.",
    ]
    if report.get("reading"):
        lines += ["", report["reading"]]
    lines += ["", "Hardware: " + hardware(hw), "", code_line(hw), END]
    return "\n".join(lines)


def write_table(report: dict[str, Any]) -> None:
    write_block(TABLE, BEGIN, END, render(report))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=12)
    parser.add_argument("--rows", type=int, default=24 * 60)
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--jobs", type=int, default=2, help="runs at once (1 torch thread each)")
    parser.add_argument("--render", action="store_true", help="rewrite the table from the JSON")
    args = parser.parse_args()
    setup_logging()
    if args.render:
        write_table(json.loads(RESULTS.read_text()))
        return
    results = run(args.entities, args.rows, args.steps, args.seeds, args.variants, args.jobs)
    report = {
        "panel": f"examples.tables.static_panel(seed, entities={args.entities}, "
        f"rows={args.rows}): hourly, target load, static attributes kind (office / home / shop: "
        "the daily and weekly shape) and floors (the level only)",
        "protocol": "rnngan train --data … --task forecast defaults, --horizon 24, "
        f"--steps {args.steps}, training seed 0; rnngan evaluate (each entity 70/15/15 by time, "
        "rolling origin every 24 rows over each test part)",
        "command": "python -m benchmarks.statics " + " ".join(sys.argv[1:]),
        "results": results,
        "hardware": environment(torch_threads=1),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    write_table(report)
    print(json.dumps({k: [v["gan_mase_ratio"], v["gan_crps_ratio"]] for k, v in results.items()}))


if __name__ == "__main__":
    main()
