"""The Python client's round trip against a running server: a panel CSV (`unique_id, ds, y`) in,
a forecast frame out (`<model>`, `<model>-lo-80`, `<model>-hi-80`, … per series and step), and a
picture of each series' recent history with its forecast fan, saved as a PNG.

    make serve                                   # in another terminal: the shipped models
    python -m examples.client_roundtrip --url http://localhost:8000 --out-dir examples/out

Without `--input`, a demo panel of four hourly series (daily cycles at different levels) is
written to `<out-dir>/panel.csv` first. Needs the serving install plus matplotlib
(`pip install matplotlib`; the training extra has it).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from rnngan.client import Client

log = logging.getLogger("examples.client_roundtrip")


def demo_panel(series: int = 4, length: int = 336, seed: int = 0) -> pd.DataFrame:
    """Hourly series with a daily cycle, each at its own level and start, with noise."""
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(series):
        stamps = pd.date_range("2024-03-01", periods=length, freq="h") + pd.Timedelta(hours=7 * k)
        hours = np.asarray(stamps.hour)
        y = 10 + 6 * k + (3 + k) * np.sin(2 * np.pi * (hours - 6) / 24) + rng.normal(0, 0.8, length)
        frames.append(pd.DataFrame({"unique_id": f"meter_{k}", "ds": stamps, "y": y}))
    return pd.concat(frames, ignore_index=True)


def plot(panel: pd.DataFrame, forecast: pd.DataFrame, model: str, out: Path, history: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ids = list(forecast["unique_id"].unique())[:6]
    fig, axes = plt.subplots(len(ids), 1, figsize=(9, 2.4 * len(ids)), sharex=False, squeeze=False)
    for ax, uid in zip(axes[:, 0], ids, strict=True):
        past = panel[panel["unique_id"] == uid].sort_values("ds").tail(history)
        fc = forecast[forecast["unique_id"] == uid]
        ax.plot(past["ds"], past["y"], color="black", lw=1, label="history")
        for level, alpha in ((95, 0.18), (80, 0.32)):
            lo, hi = f"{model}-lo-{level}", f"{model}-hi-{level}"
            if lo in fc and hi in fc:
                ax.fill_between(
                    fc["ds"],
                    fc[lo],
                    fc[hi],
                    color="tab:blue",
                    alpha=alpha,
                    lw=0,
                    label=f"{level} %",
                )
        ax.plot(fc["ds"], fc[model], color="tab:blue", lw=1.5, label="mean")
        ax.set_title(str(uid), fontsize=9, loc="left")
        ax.tick_params(labelsize=7)
    axes[0, 0].legend(fontsize=7, ncol=4, loc="upper left")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://localhost:8000")
    parser.add_argument("--model", default="etth1_ot")
    parser.add_argument("--input", type=Path, help="panel CSV (default: a demo panel)")
    parser.add_argument("--h", type=int, default=24)
    parser.add_argument("--out-dir", type=Path, default=Path("examples/out"))
    parser.add_argument("--api-key", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args.out_dir.mkdir(parents=True, exist_ok=True)

    source = args.input
    if source is None:
        source = args.out_dir / "panel.csv"
        demo_panel().to_csv(source, index=False)
        log.info("wrote a demo panel to %s", source)
    panel = pd.read_csv(source, parse_dates=["ds"])

    with Client(args.url, api_key=args.api_key) as client:
        forecast = client.forecast(args.model, panel, h=args.h, level=[80, 95], seed=0)
    csv, png = args.out_dir / "forecast.csv", args.out_dir / "forecast.png"
    forecast.to_csv(csv, index=False)
    plot(panel, forecast, args.model, png, history=4 * args.h)
    log.info(
        "%d series × %d steps, columns %s -> %s, %s",
        forecast["unique_id"].nunique(),
        args.h,
        list(forecast.columns),
        csv,
        png,
    )


if __name__ == "__main__":
    main()
