"""`make bench-forecast`: train, evaluate and export each shipped forecaster, then write
`benchmarks/results/forecast.json`, the table in `docs/forecast.md` and forecast fans in
`docs/forecast_fans.png`. Every number comes from this run; the baselines are scored on the
same windows in the same run (training/evaluate/forecast.py).

    python -m benchmarks.forecast [--reuse]   # --reuse: skip training when a checkpoint exists
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import (
    code_line,
    code_version,
    environment,
    hardware,
    run_one,
    setup_logging,
    train_and_evaluate,
)
from training.config import RunConfig, load_config

CONFIGS = ["configs/etth1_ot.toml", "configs/traffic_a5m.toml"]
RESULTS = Path("benchmarks/results/forecast.json")
TABLE = Path("docs/forecast.md")
FANS = Path("docs/forecast_fans.png")
log = logging.getLogger("rnngan.bench")


def fans(configs: list[RunConfig], path: Path, windows: int = 3) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rnngan.core.manifest import Calibration
    from training.checkpoint import load_run
    from training.data.series import load_forecast
    from training.evaluate.forecast import rolling_windows
    from training.evaluate.scores import gan_paths
    from training.families import build_graph

    fig, axes = plt.subplots(
        len(configs), windows, figsize=(5 * windows, 3.2 * len(configs)), squeeze=False
    )
    for row, config in enumerate(configs):
        ckpt = load_run(config.run_dir)
        cfg, graph = ckpt.config, build_graph(ckpt)
        d = cfg.data
        data = load_forecast(d)
        origins, hist, truth = rolling_windows(data, d.val_end, d.test_end)
        picks = np.linspace(0, len(origins) - 1, windows).astype(int)
        paths = gan_paths(graph, hist[picks], d.horizon, cfg.model.latent_dim, 200, cfg.seed)
        metrics = json.loads((cfg.run_dir / "metrics.json").read_text())
        if "calibration" in metrics:
            paths = Calibration(**metrics["calibration"]).apply(paths)
        lo, med, hi = np.quantile(paths, [0.1, 0.5, 0.9], axis=1)
        shown = min(d.context_len, 3 * d.horizon)
        for col, i in enumerate(picks):
            ax = axes[row][col]
            past = np.arange(-shown, 0)
            future = np.arange(d.horizon)
            ax.plot(past, hist[i, -shown:], color="black", lw=1, label="history")
            ax.plot(future, truth[i], color="black", ls="--", lw=1, label="truth")
            ax.fill_between(future, lo[col], hi[col], color="tab:blue", alpha=0.3, label="10–90 %")
            ax.plot(future, med[col], color="tab:blue", lw=1.5, label="median")
            ax.set_title(f"{cfg.name}: test origin row {origins[i]}", fontsize=9)
            if row == 0 and col == 0:
                ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def table(results: list[dict[str, Any]], env: dict[str, Any]) -> str:
    lines = [
        "# Forecast benchmark",
        "",
        "Produced by `make bench-forecast` (`benchmarks/forecast.py`); do not edit by hand.",
        "Rolling origin over the test split, an origin every `horizon` rows, each seeing only",
        "the history before it (docs/quality.md). MASE and CRPS are divided by the in-sample",
        "MAE of the seasonal naive on the train rows; CRPS = 2 × mean pinball over quantiles",
        "0.05 … 0.95; coverage is that of [q0.1, q0.9]. `gan` is the shipped model (with its",
        "validation-fit spread calibration), `gan_uncalibrated` the raw generator; the",
        "statsforecast baselines are fit once before the first origin and filtered forward.",
        "",
        "The forecaster (default since #16, training/families/panel_forecast.py): inside the",
        "exported graph each history window is scaled by its own level (mean of the last season)",
        "and seasonal-naive error; a GRU reads the history in season-long patches, a GRU over",
        "horizon patches reads the same-phase values 1 … 7 seasons back, the noise of its steps",
        "and its position, and its head adds a correction (zero at initialisation) to the",
        "seasonal naive. Loss: fair sample CRPS over 8 paths + 0.1 × a conditional GRU",
        "discriminator's non-saturating loss. The generator's weights are averaged (EMA, decay",
        "0.995, every step); the average is what is validated, selected and exported. Without",
        "covariates, windows of a batch are mixed with another window of the batch (TSMixup:",
        "a convex combination, its weight uniform, re-scaled like any window): all of them on",
        "a panel of up to 5,000 training windows, half from 50,000. Two such forecasters",
        "(three on a panel of up to 5,000 training windows) train side by side (own initial",
        "weights, batches and selection) and are exported as one graph whose sample paths",
        "alternate between them (an ensemble: each member adds its share of training time;",
        "the cost per path is the same). Checkpoint selection on validation windows, step 0",
        "(= the seasonal naive) always a candidate, only candidates whose validation MASE ratio",
        "to the seasonal naive is ≤ 1 eligible; the spread calibration (1/64 … 64) is fit on",
        "validation by `rnngan evaluate` and shipped in `manifest.calibration`. Season: the",
        "config's `data.season`; for own tables (`--season 0`, the default) inferred from the",
        "time column's pandas frequency (`pd.infer_freq` for calendar ones): 24 hourly (one day",
        "of steps for any spacing dividing a day, e.g. 288 at 5 min), 7 daily, 5 business-daily,",
        "52 weekly, 12 monthly, 4 quarterly, 1 without a datetime column. Horizons up to the",
        "trained one. Own tables, opt-in: known-future columns (`--future-cols`) and calendar",
        "features (`--calendar`) enter the graph as a third input (history and horizon steps),",
        "read by the encoder, each horizon patch (the values and their change since the",
        "seasonal-naive base step) and the discriminator (bench-covariates below). Static",
        "attributes (`--static-cols kind,size`, or `auto` for the columns constant within each",
        "entity of a discrete kind) join that input as time-constant channels: a categorical",
        "attribute one-hot over the categories seen in training, a numeric one standardised over",
        "the entities; the manifest lists them (`covariates.static`) and each request series",
        'sends its values (`"static": {"kind": "office"}`; docs/api.md, Static attributes); an',
        "unknown category is refused (422), not guessed. The same network then knows which group",
        "a series belongs to, so a shape that differs between groups but is hard to read from",
        "one noisy history can be learned per group; the head still starts at zero, so an",
        "untrained model is still the seasonal naive. Opt-in, like the other covariates; what",
        "they buy is measured by bench-static below.",
        '`model.kind = "forgan_v1"` (and every checkpoint written before) is the',
        "ForGAN-class model of before. Does it beat the seasonal naive? `rnngan evaluate` writes",
        "`vs_seasonal_naive` (geometric mean over series of model / seasonal naive, share of",
        "series below 1), `per_series`, and a verdict that says so plainly when it does not;",
        "the verdict also fails when the calibrated 80 % interval covers less than 60 % or",
        "more than 95 % of test values, and warns outside 75-85 %.",
        "The shipped etth1_ot (version 3) is this forecaster trained on rows [0, 8640) of OT",
        "and of ETTh1's six load columns (`data.columns` in configs/etth1_ot.toml: more",
        "training series of the same transformer); it is validated, tested and served on OT",
        "alone, whose history is its only input. Two sections below train beside it, evaluated",
        "and not exported: the same recipe on OT alone (`etth1_ot_alone`) and the ForGAN-class",
        "model shipped as version 2 (`etth1_ot_forgan_v1`). configs/traffic_a5m.toml pins",
        '`model.kind = "forgan_v1"` and keeps reproducing its shipped version.',
        "",
    ]
    for r in results:
        m = r["metrics"]
        lines += [
            f"## {r['model']}",
            "",
            f"{m['protocol']}; {m['n_windows']} windows.",
            "",
            "| model | MASE | CRPS | 80 % coverage | sMAPE % |",
            "|---|---|---|---|---|",
        ]
        for name, s in m["test"].items():
            lines.append(
                f"| {name} | {s['mase']:.3f} | {s['crps']:.3f} | "
                f"{s['coverage_80']:.3f} | {s['smape']:.2f} |"
            )
        best = min(
            (s for n, s in m["test"].items() if not n.startswith("gan")), key=lambda s: s["crps"]
        )
        gan = m["test"]["gan"]
        lines += [
            "",
            f"GAN CRPS / best baseline CRPS = {gan['crps'] / best['crps']:.3f}; "
            f"calibration: {m.get('calibration', {}).get('spread_scale', 'none')}; "
            f"seed {r['seed']}, {r['steps']} steps, train "
            f"{r.get('train_seconds', 'reused')} s, evaluate {r['evaluate_seconds']} s.",
            "",
        ]
    lines += [
        "Hardware: " + hardware(env),
        "",
        code_line(env),
        "",
        "![forecast fans](forecast_fans.png)",
        "",
    ]
    return "\n".join(lines)


def comparisons(config: RunConfig) -> list[RunConfig]:
    """What the shipped ETTh1 OT forecaster is compared with, each trained and evaluated in its
    own run directory, not exported: the same recipe on OT alone (what one series of a user's
    gets; `data.columns` empty) and the ForGAN-class model shipped as etth1_ot/2
    (`model.kind = "forgan_v1"`, OT alone, the same settings otherwise)."""
    alone = dataclasses.replace(config.data, columns=())
    return [
        dataclasses.replace(
            config,
            name=f"{config.name}_alone",
            description="the shipped recipe trained on OT alone, not exported",
            data=alone,
        ),
        dataclasses.replace(
            config,
            name=f"{config.name}_forgan_v1",
            description="the ForGAN-class model of etth1_ot/2 (forgan_v1), retrained, not exported",
            data=alone,
            model=dataclasses.replace(config.model, kind="forgan_v1"),
        ),
    ]


def run_comparison(config: RunConfig, reuse: bool) -> dict[str, Any]:
    """Train (unless `reuse` and a checkpoint exists) and evaluate `config`; nothing exported."""
    timings, metrics = train_and_evaluate(config, reuse)
    return {
        "model": f"{config.name}: {config.description}",
        "code": code_version(),
        "seed": config.seed,
        "steps": config.train.steps,
        **timings,
        "metrics": metrics,
    }


def _panel_block(doc_path: Path = TABLE) -> str:
    """The sections of docs/forecast.md that other benchmarks write (bench-panel,
    bench-covariates, bench-static, bench-short, bench-panel-scale), kept when this table is
    rewritten."""
    from benchmarks import covariates, panel, panel_scale, short, statics

    doc = doc_path.read_text() if doc_path.is_file() else ""
    kept = ""
    for module in (panel, covariates, statics, short, panel_scale):
        begin, end = module.BEGIN, module.END
        if begin in doc and end in doc:
            kept += "\n" + doc[doc.index(begin) : doc.index(end) + len(end)] + "\n"
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reuse", action="store_true", help="skip training if a run exists")
    args = parser.parse_args()
    setup_logging()
    configs = [load_config(c) for c in CONFIGS]
    results = [run_one(c, args.reuse) for c in configs]
    results += [run_comparison(c, args.reuse) for c in comparisons(configs[0])]
    env = environment(configs[0].train.threads)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"environment": env, "results": results}, indent=2) + "\n")
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    TABLE.write_text(table(results, env) + _panel_block())
    fans(configs, FANS)
    log.info("wrote %s, %s, %s", RESULTS, TABLE, FANS)


if __name__ == "__main__":
    main()
