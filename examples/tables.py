"""Example long tables for own-data training, built from public data and a seeded generator.

`python -m examples.tables --out examples/data` (from the repository root) writes them as CSV:
- stores.csv: 60 stores (static region and size) with hourly rows: a categorical (weather), a
  count (visitors), a boolean (open), a bounded column with gaps (humidity, 0-100), entities
  of 30-80 rows. Generated, seeded.
- etth1_long.csv: ETTh1's seven columns (data/ETTh1.csv) as seven entities of
  different lengths, with an invented static attribute `group`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ETTH1 = Path(__file__).resolve().parents[1] / "data" / "ETTh1.csv"


def mixed_table(seed: int = 0, entities: int = 12) -> pd.DataFrame:
    """Stores with a static region and size, hourly rows with gaps: a categorical (weather),
    a count (visitors), a boolean (open), a bounded column (humidity, 0-100), entities of
    different lengths."""
    rng = np.random.default_rng(seed)
    rows = []
    for e in range(entities):
        region = ["north", "south", "east"][e % 3]
        size = int(rng.integers(1, 4))
        length = int(rng.integers(30, 80))
        start = pd.Timestamp("2024-01-01") + pd.Timedelta(hours=int(rng.integers(0, 200)))
        t = np.arange(length)
        level = {"north": 20.0, "south": 60.0, "east": 40.0}[region] * size
        for k in range(length):
            weather = rng.choice(["sun", "cloud", "rain"], p=[0.5, 0.3, 0.2])
            is_open = bool((k % 24) >= 6)
            visitors = int(rng.poisson(level * (1.5 if is_open else 0.2)))
            humidity = float(np.clip(50 + 30 * np.sin(t[k] / 6.0) + rng.normal(0, 5), 0, 100))
            rows.append(
                {
                    "store": f"store-{e}",
                    "date": start + pd.Timedelta(hours=k),
                    "region": region,
                    "size": size,
                    "weather": weather,
                    "visitors": visitors,
                    "open": is_open,
                    "humidity": humidity if rng.random() > 0.1 else np.nan,
                }
            )
    return pd.DataFrame(rows)


def etth1_entities(rows: int = 2000, path: Path = ETTH1) -> pd.DataFrame:
    """ETTh1's seven columns as seven entities of different lengths (long format), with an
    invented static attribute: `group` is 'load' for the six load columns and 'oil' for OT."""
    frame = pd.read_csv(path, nrows=rows)
    if rows <= 6 * 150:
        raise ValueError("rows must exceed 900 so that every entity keeps some rows")
    parts = []
    for k, column in enumerate([c for c in frame.columns if c != "date"]):
        length = rows - 150 * k
        parts.append(
            pd.DataFrame(
                {
                    "sensor": column,
                    "date": frame["date"].iloc[:length],
                    "group": "oil" if column == "OT" else "load",
                    "value": frame[column].iloc[:length],
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def promo_panel(seed: int = 0, entities: int = 8, rows: int = 24 * 60) -> pd.DataFrame:
    """A panel whose target depends on a column known in advance: hourly `sales` of `entities`
    stores = level × (1 + 0.3 × a daily shape) + lift × `promo` + noise, where `promo` is a 0/1
    flag on in blocks of 4-24 hours started at random (a store knows its promotions ahead).
    The forecaster with `--future-cols promo` should beat the one without (tests,
    benchmarks/covariates.py)."""
    rng = np.random.default_rng(seed)
    hours = np.arange(rows)
    shape = np.sin(2 * np.pi * hours / 24.0) + 0.5 * np.sin(4 * np.pi * hours / 24.0)
    parts = []
    for k in range(entities):
        promo = np.zeros(rows)
        t = int(rng.integers(0, 24))
        while t < rows:
            length = int(rng.integers(4, 25))
            promo[t : t + length] = 1.0
            t += length + int(rng.integers(6, 60))
        level = float(rng.uniform(20, 200))
        sales = level * (1 + 0.3 * shape) + 0.4 * level * promo
        sales += rng.normal(0, 0.03 * level, rows)
        parts.append(
            pd.DataFrame(
                {
                    "store": f"s{k}",
                    "time": pd.date_range("2024-01-01", periods=rows, freq="h"),
                    "promo": promo.astype(int),
                    "sales": sales.round(3),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


STATIC_KINDS = ("office", "home", "shop")


def static_panel(seed: int = 0, entities: int = 12, rows: int = 24 * 60) -> pd.DataFrame:
    """A panel whose seasonal shape depends on a static attribute: hourly `load` of `entities`
    buildings, each of a `kind` (office, home, shop in turn) that sets its daily and weekly
    shape (offices: a working-hours plateau on weekdays, little at weekends; homes: morning and
    evening peaks, more at weekends; shops: an afternoon peak, the most on Saturdays), at a
    level of its own (uniform 50-200), with noise of 15 % of the level: the history shows the
    shape only through the noise, the attribute names it. A second attribute, `floors` (1-5,
    numeric), scales the level only. The forecaster with `--static-cols kind` should beat the
    one without (tests, benchmarks/statics.py)."""
    rng = np.random.default_rng(seed)
    hours = np.arange(rows)
    hour, day = hours % 24, (hours // 24) % 7  # 2024-01-01 is a Monday: day 5, 6 the weekend
    weekend = day >= 5
    office = np.where((hour >= 8) & (hour < 18), 1.0, 0.15) * np.where(weekend, 0.2, 1.0)
    home = 0.4 + np.exp(-0.5 * ((hour - 7.5) / 1.5) ** 2) + np.exp(-0.5 * ((hour - 19.5) / 2) ** 2)
    home = home * np.where(weekend, 1.3, 1.0)
    shop = np.where((hour >= 9) & (hour < 21), 0.5 + 0.5 * np.sin(np.pi * (hour - 9) / 12), 0.05)
    shop = shop * np.where(day == 5, 1.5, np.where(day == 6, 0.6, 1.0))
    shapes = {"office": office, "home": home, "shop": shop}
    parts = []
    for k in range(entities):
        kind = STATIC_KINDS[k % len(STATIC_KINDS)]
        floors = int(rng.integers(1, 6))
        level = float(rng.uniform(50, 200)) * (0.6 + 0.2 * floors)
        shape = shapes[kind] / shapes[kind].mean()
        load = level * shape + rng.normal(0, 0.15 * level, rows)
        parts.append(
            pd.DataFrame(
                {
                    "building": f"b{k}",
                    "time": pd.date_range("2024-01-01", periods=rows, freq="h"),
                    "kind": kind,
                    "floors": floors,
                    "load": load.round(3),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("examples/data"))
    parser.add_argument("--etth1", type=Path, default=ETTH1, help="path to ETTh1.csv")
    args = parser.parse_args()
    if not args.etth1.is_file():
        sys.exit(f"error: {args.etth1} not found; pass --etth1 <path to ETTh1.csv>")
    args.out.mkdir(parents=True, exist_ok=True)
    mixed_table(seed=0, entities=60).to_csv(args.out / "stores.csv", index=False)
    etth1_entities(rows=17420, path=args.etth1).to_csv(args.out / "etth1_long.csv", index=False)
    print(f"wrote {args.out / 'stores.csv'} and {args.out / 'etth1_long.csv'}")


if __name__ == "__main__":
    main()
