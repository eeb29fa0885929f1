"""A verdict a collapsed generator cannot pass (issue #15).

The TimeGAN scores alone let a collapsed model through: on globally min-max-scaled windows of a
panel whose levels span orders of magnitude, real data also sit near zero, so a generator stuck
at the bottom of the range scores at the real floor. This module adds

- the discriminative score on PER-WINDOW z-scored windows (each window and feature standardised
  by its own mean and std, real and synthetic alike): the level no longer hides the shape, and a
  constant window (all zeros after z-scoring) is told apart at once;
- explicit collapse checks per numeric feature: share of distinct values, spread ratio
  (synthetic std / real std, over all values and within windows), Kolmogorov-Smirnov statistic,
  and the autocorrelation error beside its real-vs-real floor;
- a verdict: PASS only when every check passes, else FAIL with the reasons.

The thresholds (`Limits`) are fixed, not tuned per data set; real-vs-real passes them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import ks_2samp

from training.evaluate import progress
from training.evaluate.metrics import autocorrelation_error, discriminative_score

MIN_DISC_RUNS = 5  # the discriminative score as mean ± std over at least 5 runs

# The z-scored classifier is ours, not the protocol's: wide enough (not F/2) to see a shape.
ZSCORED_HIDDEN = 8


@dataclass(frozen=True)
class Limits:
    disc_margin: float = 0.10  # discriminative score at most its real floor + this
    acf_margin: float = 0.10  # ACF error at most its real floor + this
    ks_max: float = 0.20  # per numeric feature / column
    spread_low: float = 0.5  # synthetic std / real std inside [low, high]
    spread_high: float = 2.0
    distinct_min: float = 0.2  # synthetic distinct values / real distinct values, at least
    distinct_real_min: int = 20  # ... checked only where the real data have this many values


LIMITS = Limits()


def zscore_windows(x: np.ndarray) -> np.ndarray:
    """Each window's features standardised over time by their own mean and std (N, T, F); a
    constant window-feature becomes zeros."""
    mean = x.mean(axis=1, keepdims=True)
    std = x.std(axis=1, keepdims=True)
    return np.where(std > 1e-8, (x - mean) / np.maximum(std, 1e-8), 0.0).astype(np.float32)


def subsample(x: np.ndarray, count: int, seed: int) -> np.ndarray:
    if len(x) <= count:
        return x
    return x[np.random.default_rng(seed).choice(len(x), count, replace=False)]


def distinct_count(values: np.ndarray, low: float, high: float, grid: int = 10_000) -> int:
    """Distinct values on a grid of `grid` cells over the real range (float noise is not
    diversity)."""
    span = high - low if high > low else 1.0
    return int(np.unique(np.rint((values - low) / span * grid)).size)


def _check(name: str, value: float, passed: bool, rule: str) -> dict[str, Any]:
    return {"name": name, "value": float(value), "passed": bool(passed), "rule": rule}


def feature_checks(
    real: np.ndarray,
    fake: np.ndarray,
    features: list[str],
    numeric: list[bool] | None = None,
    *,
    limits: Limits = LIMITS,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Collapse checks per numeric feature of windows (N, T, F): distinct values, spread (over
    all values and within windows), KS."""
    numeric = numeric if numeric is not None else [True] * real.shape[-1]
    n = min(len(real), len(fake))
    r, f = subsample(real, n, seed), subsample(fake, n, seed + 1)
    out: list[dict[str, Any]] = []
    for k, name in enumerate(features):
        if not numeric[k]:
            continue
        rv, fv = r[..., k].ravel().astype(np.float64), f[..., k].ravel().astype(np.float64)
        low, high = float(rv.min()), float(rv.max())
        real_distinct = distinct_count(rv, low, high)
        if real_distinct >= limits.distinct_real_min:
            share = distinct_count(fv, low, high) / real_distinct
            out.append(
                _check(
                    f"{name}: distinct values (synthetic / real)",
                    share,
                    share >= limits.distinct_min,
                    f">= {limits.distinct_min}",
                )
            )
        rstd = float(rv.std())
        if rstd > 1e-12:
            ratio = float(fv.std()) / rstd
            rule = f"in [{limits.spread_low}, {limits.spread_high}]"
            out.append(
                _check(
                    f"{name}: spread (synthetic std / real std)",
                    ratio,
                    limits.spread_low <= ratio <= limits.spread_high,
                    rule,
                )
            )
        within_real = float(r[..., k].std(axis=1).mean())
        if within_real > 1e-12:
            ratio = float(f[..., k].std(axis=1).mean()) / within_real
            out.append(
                _check(
                    f"{name}: spread within windows (synthetic / real)",
                    ratio,
                    limits.spread_low <= ratio <= limits.spread_high,
                    f"in [{limits.spread_low}, {limits.spread_high}]",
                )
            )
        ks = float(ks_2samp(rv, fv).statistic)
        out.append(_check(f"{name}: KS statistic", ks, ks <= limits.ks_max, f"<= {limits.ks_max}"))
    return out


def disc_runs(
    real: np.ndarray,
    other: np.ndarray,
    *,
    runs: int,
    steps: int,
    batch_size: int,
    seed: int,
    hidden: int | None = None,
) -> dict[str, Any]:
    """Mean ± std of the discriminative score over `runs` classifier seeds."""
    scores = [
        discriminative_score(
            real, other, steps=steps, batch_size=batch_size, seed=seed + r, hidden_size=hidden
        )
        for r in range(runs)
    ]
    return {"mean": float(np.mean(scores)), "std": float(np.std(scores)), "runs": scores}


def quality_report(
    real: np.ndarray,
    fake: np.ndarray,
    real_other: np.ndarray,
    features: list[str],
    *,
    numeric: list[bool] | None = None,
    runs: int = MIN_DISC_RUNS,
    disc_steps: int = 1000,
    batch_size: int = 128,
    max_windows: int = 1000,
    seed: int = 0,
    limits: Limits = LIMITS,
    extra_checks: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Per-window z-scored discriminative score (≥ 5 runs, on at most `max_windows` windows a
    side) beside its floor, the ACF error beside its floor, the feature checks and the verdict.
    `extra_checks` (e.g. per-column checks of a decoded table) join the verdict."""
    runs = max(runs, MIN_DISC_RUNS)
    r = subsample(real, max_windows, seed)
    f = subsample(fake, max_windows, seed + 1)
    o = subsample(real_other, max_windows, seed + 2)
    zr, zf, zo = zscore_windows(r), zscore_windows(f), zscore_windows(o)
    common = dict(
        runs=runs,
        steps=disc_steps,
        batch_size=batch_size,
        seed=seed,
        hidden=ZSCORED_HIDDEN,
    )
    with progress.stage("verdict scores (per-window z disc and floor)", 2 * runs * disc_steps):
        disc_z = disc_runs(zr, zf, **common)  # type: ignore[arg-type]
        disc_z_floor = disc_runs(zr, zo, **common)  # type: ignore[arg-type]
    acf = autocorrelation_error(real, fake)
    acf_floor = autocorrelation_error(real, real_other)
    checks = [
        _check(
            "discriminative score, per-window z-scored (mean)",
            disc_z["mean"],
            disc_z["mean"] <= disc_z_floor["mean"] + limits.disc_margin,
            f"<= real floor {disc_z_floor['mean']:.3f} + {limits.disc_margin}",
        ),
        _check(
            "autocorrelation error",
            acf,
            acf <= acf_floor + limits.acf_margin,
            f"<= real floor {acf_floor:.4f} + {limits.acf_margin}",
        ),
    ]
    checks += feature_checks(real, fake, features, numeric, limits=limits, seed=seed)
    checks += extra_checks or []
    return {
        "discriminative_zscored": disc_z,
        "discriminative_zscored_real_floor": disc_z_floor,
        "windows_scored": {"real": len(r), "synthetic": len(f), "of_real": len(real)},
        "checks": checks,
        "limits": asdict(limits),
        "verdict": verdict(checks),
    }


def global_disc_check(report: dict[str, Any], limits: Limits = LIMITS) -> dict[str, Any]:
    """The plain (globally scaled) discriminative score beside its floor, as a check."""
    disc, floor = report["discriminative"]["mean"], report["discriminative_real_floor"]["mean"]
    return _check(
        "discriminative score (mean)",
        disc,
        disc <= floor + limits.disc_margin,
        f"<= real floor {floor:.3f} + {limits.disc_margin}",
    )


def verdict(checks: list[dict[str, Any]]) -> dict[str, Any]:
    """PASS when every check passes; FAIL names each failed check, its value and its rule."""
    failed = [c for c in checks if not c["passed"]]
    if not failed:
        line = f"PASS: all {len(checks)} quality checks pass"
    else:
        reasons = "; ".join(f"{c['name']} = {c['value']:.3f} (needs {c['rule']})" for c in failed)
        line = f"FAIL: {len(failed)} of {len(checks)} quality checks fail: {reasons}"
    return {
        "passed": not failed,
        "line": line,
        "failed": [c["name"] for c in failed],
        "collapse_suspected": any(_is_collapse(c) for c in failed),
    }


def _is_collapse(check: dict[str, Any]) -> bool:
    """A failed check that says collapse: too few distinct values, a level check, or a spread
    too small (a spread too large is noise, not collapse)."""
    name = check["name"]
    if "spread" in name:
        return float(check["value"]) < 1.0
    return "distinct" in name or "level" in name
