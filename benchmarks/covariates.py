"""`make bench-covariates`: does a known-future column help the panel forecaster (#16.2)?

A synthetic panel whose target depends on a column known in advance (examples/tables.py
`promo_panel`: hourly sales of stores, lifted by 40 % of the store's level while a 0/1 `promo`
flag is on, in blocks of 4-24 hours) is trained through the user's path twice with the same seed
and the `rnngan train --data … --task forecast` defaults: once without covariates, once with
`--future-cols promo` (and once more with `--calendar auto` added); each is scored by
`rnngan evaluate` on the same test windows (per series model / seasonal naive, geometric mean
over series, GIFT-Eval's way). Writes benchmarks/results/covariates.json and a table in
docs/forecast.md (between the bench-covariates markers).

    python -m benchmarks.covariates [--entities 8] [--rows 1440] [--steps 1200] [--seed 0]
    python -m benchmarks.covariates --render     # the table again, from the JSON
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import code_line, environment, hardware, run_cli, setup_logging, write_block
from examples.tables import promo_panel

RESULTS = Path("benchmarks/results/covariates.json")
TABLE = Path("docs/forecast.md")
BEGIN, END = "<!-- bench-covariates:begin -->", "<!-- bench-covariates:end -->"
VARIANTS: dict[str, list[str]] = {
    "none": [],
    "future": ["--future-cols", "promo"],
    "future+calendar": ["--future-cols", "promo", "--calendar", "auto"],
}
log = logging.getLogger("rnngan.bench")


def run(entities: int, rows: int, steps: int, seed: int, variants: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "promo.csv"
        promo_panel(seed=seed, entities=entities, rows=rows).to_csv(data, index=False)
        for name in variants:
            run_name = f"promo_{name.replace('+', '_')}"
            started = time.perf_counter()
            run_cli(
                "train", "--data", str(data), "--id-col", "store", "--time-col", "time",
                "--task", "forecast", "--target", "sales", "--horizon", "24",
                "--steps", str(steps), "--out-dir", tmp, "--name", run_name,
                *VARIANTS[name],
            )  # fmt: skip
            trained = time.perf_counter() - started
            run_cli("evaluate", "--run", str(Path(tmp) / run_name))
            metrics = json.loads((Path(tmp) / run_name / "metrics.json").read_text())
            vs = metrics["vs_seasonal_naive"]
            out[name] = {
                "args": VARIANTS[name],
                "gan_mase_ratio": vs["gan"]["mase_ratio"],
                "gan_crps_ratio": vs["gan"]["crps_ratio"],
                "gan_coverage_80": vs["gan"].get("coverage_80"),
                "autoets_mase_ratio": vs.get("AutoETS", {}).get("mase_ratio"),
                "test_mase": metrics["test_mase"],
                "test_crps": metrics["test_crps"],
                "seasonal_naive_mase": metrics["test"]["seasonal_naive"]["mase"],
                "n_windows": metrics["n_windows"],
                "train_s": round(trained, 1),
                "verdict": metrics["verdict"]["line"],
            }
            log.info("%s: %s", name, out[name])
    return out


def render(report: dict[str, Any]) -> str:
    hw = report["hardware"]
    lines = [
        BEGIN,
        "## Known-future covariates (`make bench-covariates`)",
        "",
        "Produced by `benchmarks/covariates.py`; do not edit by hand. "
        f"Panel: {report['panel']}. {report['protocol']}.",
        "",
        "| covariates | MASE ratio | CRPS ratio | 80 % cov | pooled MASE | AutoETS MASE ratio "
        "| train s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report["results"].values():
        args = f"`{' '.join(r['args'])}`" if r["args"] else "none"
        cov = r["gan_coverage_80"]
        ets = r["autoets_mase_ratio"]
        lines.append(
            f"| {args} | {r['gan_mase_ratio']:.3f} | {r['gan_crps_ratio']:.3f} | "
            f"{'—' if cov is None else f'{cov:.3f}'} | {r['test_mase']:.3f} | "
            f"{'—' if ets is None else f'{ets:.3f}'} | {r['train_s']} |"
        )
    lines += [
        "",
        f"{next(iter(report['results'].values()))['n_windows']} test windows; ratios are per "
        "series to the seasonal naive on the same windows, geometric mean over series.",
        "",
        "Hardware: " + hardware(hw),
        "",
        code_line(hw),
        END,
    ]
    return "\n".join(lines)


def write_table(report: dict[str, Any]) -> None:
    write_block(TABLE, BEGIN, END, render(report))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=8)
    parser.add_argument("--rows", type=int, default=24 * 60)
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--render", action="store_true", help="rewrite the table from the JSON")
    args = parser.parse_args()
    setup_logging()
    if args.render:
        write_table(json.loads(RESULTS.read_text()))
        return
    results = run(args.entities, args.rows, args.steps, args.seed, args.variants)
    report = {
        "panel": f"examples.tables.promo_panel(seed={args.seed}, entities={args.entities}, "
        f"rows={args.rows}): hourly, target sales, known-future column promo",
        "protocol": "rnngan train --data … --task forecast defaults, --horizon 24, "
        f"--steps {args.steps}, seed 0; rnngan evaluate (each entity 70/15/15 by time, rolling "
        "origin every 24 rows over each test part); ratios per series to the seasonal naive, "
        "geometric mean over series",
        "results": results,
        "hardware": environment(torch_threads=1),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    write_table(report)
    print(json.dumps({k: v["gan_mase_ratio"] for k, v in results.items()}, indent=2))


if __name__ == "__main__":
    main()
