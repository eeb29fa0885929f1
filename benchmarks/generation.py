"""`make bench-generation`: train (or, with --reuse, load), evaluate and export each shipped
generator, then write `benchmarks/results/generation.json`, the table in `docs/generation.md`
(our numbers beside the published ones of docs/quality.md) and a projection picture per data set
in `docs/generation_<name>.png`. Every number comes from this run.

    python -m benchmarks.generation [--reuse] [--only sines,stocks] [--force energy]

Each data set's results are written as soon as it is done: a run stopped (or refused an export)
half-way keeps what it finished, and `--reuse --only` picks up the rest without retraining.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from pathlib import Path
from typing import Any

from benchmarks.common import code_line, hardware, run_one, setup_logging, write_merged
from training.config import load_config

DATASETS = ["sines", "stocks", "energy", "etth1"]
RESULTS = Path("benchmarks/results/generation.json")
TABLE = Path("docs/generation.md")
log = logging.getLogger("rnngan.bench")

# docs/quality.md, lower is better; None where a paper did not report the cell.
PUBLISHED: dict[str, dict[str, tuple[float | None, float | None]]] = {
    # model: dataset -> (discriminative, predictive)
    "TimeGAN (2019)": {
        "sines": (0.011, 0.093),
        "stocks": (0.102, 0.038),
        "energy": (0.236, 0.273),
        "etth1": (None, None),
    },
    "RCGAN (2017)": {
        "sines": (0.022, 0.097),
        "stocks": (0.196, 0.040),
        "energy": (0.336, 0.292),
        "etth1": (None, None),
    },
    "Diffusion-TS (2024)": {
        "sines": (0.006, 0.093),
        "stocks": (0.067, 0.036),
        "energy": (0.122, 0.251),
        "etth1": (0.061, None),
    },
    "real data (published floor)": {
        "sines": (None, 0.094),
        "stocks": (None, 0.036),
        "energy": (None, 0.250),
        "etth1": (None, None),
    },
}


RECIPE = [
    "Each model is TimeGAN (docs/quality.md) plus config settings, by version (the model",
    "column). energy/2 (and etth1/2) add three things: observation noise (`model.noise_skip`:",
    "each step's noise also reaches the output through a linear map that starts at zero), a",
    "term matching each channel's step-to-step roughness on a log scale (`train.diff_weight`,",
    "`train.diff_relative`), and the checkpoint kept by its distance to held-out windows",
    "(`train.select_every`, training/selection.py). Why: Energy's real windows hold two",
    "channels of white noise (rv1 = rv2) beside smooth temperatures and humidities; the",
    "version-1 generator made the noise channels too smooth and the smooth ones two to three",
    "times too rough, and the latent discriminator cannot see either. stocks/2 keeps version",
    "1's recipe and adds two window statistics to the generator's loss: each channel's",
    "autocorrelation within a window at lags 1 … 23 (`train.acf_weight` 10) and its spread",
    "within a window on a log scale (`train.spread_weight` 10); stocks/3 adds the channels'",
    "correlations, over all steps and within each window (`train.xcorr_weight` 10): how the",
    "channels move together, which the per-channel terms do not see. sines/3 is sines/2",
    "(version 1's recipe) plus those three window terms, and etth1/3 is etth1/2 plus them.",
    "energy/3 is energy/2's recipe trained again on the current code (energy/2 had been trained",
    "on code that has changed since, and no checkout could rebuild it; it stays in models/).",
    "Energy keeps that recipe: with the three terms, or the two per-channel ones, its",
    "discriminative score rose (its autocorrelation error fell), so neither was shipped.",
    "Older versions stay in models/ and are served by version.",
]


def _cell(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _runs(results: dict[str, dict[str, Any]]) -> str:
    """How many classifier runs the discriminative scores in `results` are over."""
    counts = sorted({len(r["metrics"]["discriminative"]["runs"]) for r in results.values()})
    return " or ".join(str(c) for c in counts) or "?"


def table(results: dict[str, dict[str, Any]], env: dict[str, Any]) -> str:
    names = [n for n in DATASETS if n in results]
    head = (
        "| model | "
        + " | ".join(f"{n} disc" for n in names)
        + " | "
        + " | ".join(f"{n} pred" for n in names)
        + " |"
    )
    sep = "|---" * (1 + 2 * len(names)) + "|"
    lines = [
        "# Generation benchmark",
        "",
        "Produced by `make bench-generation` (`benchmarks/generation.py`); do not edit by hand.",
        "TimeGAN protocol (docs/quality.md): windows of 24, min-max scaled; discriminative",
        "score = |accuracy − 0.5| of a post-hoc 1-layer GRU (hidden F/2, 2,000 steps, 80/20",
        "split); predictive score = MAE on real of a 1-layer GRU trained 5,000 steps on",
        f"synthetic. Ours: mean ± std over {_runs(results)} classifier runs. Lower is better.",
        "",
        head,
        sep,
    ]

    def ours(key: str) -> list[str]:
        return [
            f"{results[n]['metrics'][key]['mean']:.3f} ± {results[n]['metrics'][key]['std']:.3f}"
            for n in names
        ]

    lines.append(
        "| **rnngan (this run)** | "
        + " | ".join(ours("discriminative"))
        + " | "
        + " | ".join(ours("predictive"))
        + " |"
    )
    lines.append(
        "| real vs real (this run's floor) | "
        + " | ".join(ours("discriminative_real_floor"))
        + " | "
        + " | ".join(ours("predictive_real_floor"))
        + " |"
    )
    for model, cells in PUBLISHED.items():
        lines.append(
            f"| {model} | "
            + " | ".join(_cell(cells[n][0]) for n in names)
            + " | "
            + " | ".join(_cell(cells[n][1]) for n in names)
            + " |"
        )
    lines += [
        "",
        "| data set | model | disc runs | ACF error (real floor) | cross-corr error (real floor) | "
        "seed | train s | evaluate s | code |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n in names:
        m, r = results[n]["metrics"], results[n]
        runs = ", ".join(f"{v:.3f}" for v in m["discriminative"]["runs"])
        lines.append(
            f"| {n} | {r.get('model', '—')} | {runs} | {m['autocorrelation_error']:.4f} "
            f"({m['autocorrelation_error_real_floor']:.4f}) | "
            f"{m['cross_correlation_error']:.4f} "
            f"({m['cross_correlation_error_real_floor']:.4f}) | {r['seed']} | "
            f"{r.get('train_seconds', '—')}{' (earlier run)' if r.get('train_reused') else ''}"
            f" | {r['evaluate_seconds']} | {((r.get('code') or {}).get('commit') or '—')[:8]} |"
        )
    lines += ["", *RECIPE, "", "Targets: beat TimeGAN on every cell; reach for Diffusion-TS.", ""]
    for n in names:
        # The spread counts: a disc score beats only when its mean + std is below.
        disc_stats = results[n]["metrics"]["discriminative"]
        disc = disc_stats["mean"] + disc_stats["std"]
        pred = results[n]["metrics"]["predictive"]["mean"]
        tg_disc, tg_pred = PUBLISHED["TimeGAN (2019)"][n]
        if tg_disc is not None and tg_pred is not None:
            verdict = (
                ("beats" if disc < tg_disc else "does not beat")
                + f" TimeGAN's disc (mean + std {disc:.4f} vs {tg_disc:.3f}), "
                + ("beats or ties" if pred <= tg_pred else "does not beat")
                + " its pred (mean)"
            )
            lines.append(f"- {n}: {verdict}.")
    lines += ["", "The quality verdict of each model (docs/quality.md, `rnngan evaluate`):", ""]
    for n in names:
        line = (results[n]["metrics"].get("verdict") or {}).get("line", "not recorded")
        forced = (
            " Exported with `--force`: the verdict suspects collapse."
            if results[n].get("exported_forced")
            else ""
        )
        lines.append(f"- {n} ({results[n].get('model', '—')}): {line}.{forced}")
    lines += ["", "Hardware: " + hardware(env), "", code_line(env), ""]
    lines += [f"![{n}](generation_{n}.png)" for n in names] + [""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reuse", action="store_true", help="skip training if a run exists")
    parser.add_argument("--only", default=",".join(DATASETS), help="comma-separated data sets")
    parser.add_argument(
        "--force",
        default="",
        help="comma-separated data sets to export even when their verdict suspects collapse "
        "(the table says so; `make bench-generation` forces energy, as `make train-energy` does)",
    )
    parser.add_argument(
        "--table-only",
        action="store_true",
        help="rewrite docs/generation.md from the results file, measure nothing",
    )
    args = parser.parse_args()
    setup_logging()
    if args.table_only:
        data = json.loads(RESULTS.read_text())
        TABLE.write_text(table(data["results"], data["environment"]))
        return
    names, forced = args.only.split(","), [n for n in args.force.split(",") if n]
    unknown = [n for n in names + forced if n not in DATASETS]
    if unknown:
        parser.error(f"unknown data set(s) {unknown}; data sets: {', '.join(DATASETS)}")
    for name in names:
        config = load_config(f"configs/{name}.toml")
        measured = {name: run_one(config, args.reuse, force=name in forced)}
        shutil.copyfile(config.run_dir / "projection.png", f"docs/generation_{name}.png")
        # Keep data sets measured earlier in this run, or by an earlier or concurrent --only run.
        results, env = write_merged(RESULTS, measured)
        TABLE.parent.mkdir(parents=True, exist_ok=True)
        TABLE.write_text(table(results, env))
        log.info("%s: wrote %s and %s", name, RESULTS, TABLE)


if __name__ == "__main__":
    main()
