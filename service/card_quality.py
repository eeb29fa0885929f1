"""The quality section of the model card (service/card.py): the stored verdict, the scores
beside their yardsticks, checks, and pictures in the data's own units: inline SVG from stored
numbers and from a few outputs the model draws here with seed 0, and the PNGs the training run
left beside the manifest (files, or inside report.html) as data: URIs."""

from __future__ import annotations

import base64
import html
import json
import re
from typing import Any

from rnngan.core import images as img
from rnngan.core.manifest import Manifest
from service import svg
from service.config import Settings
from service.errors import InvalidInput, TooLarge
from service.registry import LoadedModel
from service.schemas import DatasetRequest

REPORT_FILE = "report.json"  # written beside the manifest by `rnngan export`
REPORT_HTML = "report.html"
_EMBEDDED_PNG = re.compile(r"src=['\"]data:image/png;base64,([A-Za-z0-9+/=]+)['\"]")
_MAX_PICTURE_BYTES = 4 * 1024 * 1024
# The forecast verdict's coverage rule (training/evaluate/versus.py COVERAGE_RANGE, COVERAGE_FAR;
# a test keeps them equal): applied here too to verdicts stored before it.
COVERAGE_RANGE = (0.75, 0.85)
COVERAGE_FAR = (0.60, 0.95)
_SCORES = (  # manifest metric, its real floor, label (generation models, docs/quality.md)
    ("discriminative", "discriminative_real_floor", "discriminative"),
    ("predictive", "predictive_real_floor", "predictive (MAE)"),
    ("autocorrelation_error", "autocorrelation_error_real_floor", "autocorrelation error"),
    ("cross_correlation_error", "cross_correlation_error_real_floor", "cross-correlation error"),
)


def _e(x: object) -> str:
    return html.escape(str(x), quote=True)


def _mean(x: Any) -> float | None:
    if isinstance(x, dict):
        x = x.get("mean")
    return float(x) if isinstance(x, int | float) else None


def read_report(model: LoadedModel) -> dict[str, Any] | None:
    try:
        report = json.loads((model.path / REPORT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) else None


def verdict(m: Manifest, report: dict[str, Any] | None) -> tuple[str, str]:
    """(css class, line): the stored verdict, or a plain statement that there is none; a
    forecaster's pass with warnings (too few test windows to be firm, coverage off 0.80:
    `warnings`, or `few_windows` in reports before them) is a warning. A forecaster's verdict
    stored before the coverage rule is judged by it here (`_older_coverage`)."""
    stored = (report or {}).get("verdict") or m.metrics.get("verdict")
    if isinstance(stored, dict) and "line" in stored:
        line = str(stored["line"])
        if stored.get("collapse_suspected"):
            # Exported with --force: say so before the checks.
            line = "COLLAPSE SUSPECTED (exported with --force). " + line
        if not stored.get("passed"):
            return "fail", line
        older = _older_coverage(m, stored)
        if older is not None:
            return older[0], f"{line} — {older[1]}"
        warned = stored.get("warnings") or stored.get("few_windows")
        return ("warn" if warned else "pass"), line
    return "none", "NO VERDICT STORED: this model was exported before quality verdicts existed"


def _older_coverage(m: Manifest, stored: dict[str, Any]) -> tuple[str, str] | None:
    """A forecaster's passed verdict stored without `coverage_80` (before the verdict judged
    the 80 % interval): (css class, what the rule says) when its coverage is off the rule."""
    if m.task != "forecast" or "coverage_80" in stored:
        return None
    gan = (m.metrics.get("vs_seasonal_naive") or {}).get("gan") or {}
    cov = gan.get("coverage_80")
    if not isinstance(cov, int | float):
        return None
    cov = round(float(cov), 3)
    told = "stored before the verdict judged the interval"
    if not COVERAGE_FAR[0] <= cov <= COVERAGE_FAR[1]:
        far = f"{COVERAGE_FAR[0]:.2f}–{COVERAGE_FAR[1]:.2f}"
        return "fail", f"FAIL today: 80 % coverage {cov:.3f} outside {far} ({told})"
    if not COVERAGE_RANGE[0] <= cov <= COVERAGE_RANGE[1]:
        near = f"{COVERAGE_RANGE[0]:.2f}–{COVERAGE_RANGE[1]:.2f}"
        return "warn", f"a warning today: 80 % coverage {cov:.3f} outside {near} ({told})"
    return None


def _comparison(m: Manifest) -> str:
    """One factual sentence comparing the stored scores with their yardstick."""
    test = m.metrics.get("test")
    if m.task == "forecast" and isinstance(test, dict) and "gan" in test:
        naive, gan = test.get("seasonal_naive", {}), test["gan"]
        parts = []
        for key, label in (("mase", "MASE"), ("crps", "CRPS")):
            if key in gan and key in naive:
                word = "beats" if gan[key] < naive[key] else "does not beat"
                parts.append(
                    f"{label} {svg.fmt(gan[key])} {word} the seasonal naive's {svg.fmt(naive[key])}"
                )
        return "On its test windows: " + "; ".join(parts) + "." if parts else ""
    if "discriminative" in m.metrics:
        d, floor = (
            _mean(m.metrics["discriminative"]),
            _mean(m.metrics.get("discriminative_real_floor")),
        )
        return (
            f"Discriminative score {svg.fmt(d)} (real-vs-real floor {svg.fmt(floor)}; "
            "0 means a classifier cannot tell synthetic from real)."
        )
    return ""


def _score_chart(m: Manifest, report: dict[str, Any] | None) -> str:
    if report and report.get("scores"):
        rows = [
            (
                str(s["score"]),
                [("synthetic", s.get("synthetic")), ("real floor", s.get("real_floor"))],
            )
            for s in report["scores"]
        ]
    else:
        rows = [
            (
                label,
                [("synthetic", _mean(m.metrics[key])), ("real floor", _mean(m.metrics.get(floor)))],
            )
            for key, floor, label in _SCORES
            if key in m.metrics
        ]
    if not rows:
        return ""
    return svg.bars(rows, title="Scores beside the real-vs-real floor (lower is better)")


def _forecast_quality(m: Manifest) -> str:
    test = m.metrics.get("test")
    if not isinstance(test, dict):
        return ""
    head = "<tr><th>method</th><th>MASE</th><th>CRPS</th><th>80 % coverage</th><th>sMAPE</th></tr>"
    body = "".join(
        f"<tr><td>{_e(name)}</td>"
        + "".join(f"<td>{svg.fmt(s.get(k))}</td>" for k in ("mase", "crps", "coverage_80", "smape"))
        + "</tr>"
        for name, s in test.items()
    )
    parts = [f"<p>{_e(m.metrics.get('protocol', ''))}</p><table>{head}{body}</table>"]
    scale = m.metrics.get("scale")
    if isinstance(scale, int | float):
        # MASE and CRPS are divided by the seasonal naive's in-sample MAE: times it, data units.
        unit = m.features[0]
        rows = [
            (name, [("MAE", s.get("mase", 0) * scale), ("CRPS", s.get("crps", 0) * scale)])
            for name, s in test.items()
        ]
        parts.append(
            svg.bars(rows, title=f"Test error in the data's units ({unit}; lower is better)")
        )
    versus = m.metrics.get("vs_seasonal_naive")
    if isinstance(versus, dict) and versus:
        # A panel: each series has its own units, so the ratios to the seasonal naive instead.
        rows = [
            (name, [("MASE ratio", s.get("mase_ratio")), ("CRPS ratio", s.get("crps_ratio"))])
            for name, s in versus.items()
            if isinstance(s, dict)
        ]
        parts.append(
            svg.bars(
                rows,
                title="Error / the seasonal naive's, geometric mean over series (< 1 beats it)",
            )
        )
    return "".join(parts)


def _image_quality(m: Manifest) -> str:
    scores, ref = m.metrics.get("scores"), m.metrics.get("reference", {})
    if not isinstance(scores, dict):
        return ""
    head = "<tr><th>conditioning</th><th>score</th><th>model</th><th>real data</th></tr>"
    pairs = {
        "frechet": "frechet_floor",
        "disc_score": "disc_score",
        "nn_train": "nn_train",
        "diversity": "diversity",
        "accuracy": "judge_test_accuracy",
    }
    body = ""
    for group, s in scores.items():
        for key, ref_key in pairs.items():
            if key in s:
                body += (
                    f"<tr><td>{_e(group)}</td><td>{_e(key)}</td><td>{svg.fmt(s[key])}</td>"
                    f"<td>{svg.fmt(ref.get(ref_key))}</td></tr>"
                )
    return f"<table>{head}{body}</table>"


def _checks(report: dict[str, Any] | None) -> str:
    checks = (report or {}).get("checks") or []
    if not checks:
        return ""
    body = ""
    for c in checks:
        value = c.get("value")
        shown = svg.fmt(value) if isinstance(value, float) else value
        result = "pass" if c.get("passed") else "<b>FAIL</b>"
        body += (
            f"<tr><td>{_e(c.get('name'))}</td><td>{_e(shown)}</td>"
            f"<td>{_e(c.get('rule', ''))}</td><td>{result}</td></tr>"
        )
    head = "<tr><th>check</th><th>value</th><th>rule</th><th></th></tr>"
    return f"<h3>Checks</h3><table>{head}{body}</table>"


def _table_columns(report: dict[str, Any] | None) -> str:
    columns = (report or {}).get("columns") or {}
    charts = []
    for name, c in columns.items():
        if c.get("mean_real") is None:
            continue
        rows = [
            ("mean ± std", [("real", c.get("mean_real")), ("synthetic", c.get("mean_synthetic"))])
        ]
        errors = [[c.get("std_real"), c.get("std_synthetic")]]
        charts.append(svg.bars(rows, title=f"{name} ({c.get('kind')})", errors=errors, width=420))
    return "".join(f"<figure>{c}</figure>" for c in charts)


def _pictures(model: LoadedModel) -> list[tuple[str, bytes]]:
    """PNGs the training run left beside the manifest, then those inside report.html."""
    found: list[tuple[str, bytes]] = []
    for path in sorted(model.path.glob("*.png")):
        if path.stat().st_size <= _MAX_PICTURE_BYTES:
            found.append((path.name, path.read_bytes()))
    try:
        page = (model.path / REPORT_HTML).read_text(encoding="utf-8")
    except OSError:
        page = ""
    for k, match in enumerate(_EMBEDDED_PNG.finditer(page)):
        found.append((f"{REPORT_HTML}, picture {k + 1}", base64.b64decode(match.group(1))))
    return found


def _img(data: bytes, alt: str, css: str = "", width: int | None = None) -> str:
    uri = "data:image/png;base64," + base64.b64encode(data).decode()
    size = f" width='{width}'" if width else ""
    return f"<img class='{css}' alt='{_e(alt)}' src='{uri}'{size} style='max-width:100%'>"


def _drawn(model: LoadedModel, settings: Settings) -> str:
    """What the model draws here, seed 0, in the data's units."""
    m = model.manifest
    if m.image is not None:
        from service.images import generate_images, pixel_units
        from service.plans import plan_image_dataset

        plan = plan_image_dataset(model, DatasetRequest(n=20, seed=0, format="parquet"), settings)
        pixels = pixel_units(generate_images(model, plan), m.image.pixel_max)  # (20, H, W)
        grid = img.encode_png_grid(pixels / m.image.pixel_max, cols=10, scale=6)
        what = "class i mod 10" if m.image.conditioning != "none" else "noise only"
        return (
            f"<figure>{_img(grid, f'{m.name}: 20 images', 'pixels', width=480)}"
            f"<figcaption>Images 0 … 19 of seed 0 ({what}; white ink = "
            f"{svg.fmt(m.image.pixel_max)} in the data's pixel units)</figcaption></figure>"
        )
    if m.task == "generate" and m.table is None and m.seq_len is not None:
        from service.inference import generate

        out = generate(model, n=3, length=m.seq_len, seed=0, batched=False)  # (3, T, F)
        lo, hi = m.scaler.data_min, m.scaler.data_max
        panels = [
            svg.lines(
                out[:, :, f].tolist(),
                title=m.features[f],
                band=(lo[f], hi[f]) if lo is not None and hi is not None else None,
            )
            for f in range(min(4, len(m.features)))
        ]
        return (
            "<figure>" + "".join(panels) + "<figcaption>Series 0, 1, 2 of seed 0, the first "
            f"{len(panels)} of {len(m.features)} features, in the data's units; dashed: the "
            "training data's range</figcaption></figure>"
        )
    return ""


def _drawn_or_why(model: LoadedModel, settings: Settings) -> str:
    """`_drawn`, or why nothing could be drawn (the rest of the card still helps); 503 when
    the service is at inference capacity, as for any other request."""
    try:
        return _drawn(model, settings)
    except (InvalidInput, TooLarge) as exc:
        return f"<p>No outputs drawn here: {_e(exc.detail)}</p>"


def quality_section(model: LoadedModel, settings: Settings, report: dict[str, Any] | None) -> str:
    m = model.manifest
    css, line = verdict(m, report)
    parts = [
        f"<p class='verdict {css}' id='verdict'>{_e(line)}</p>",
        f"<p>{_e(_comparison(m))}</p>",
        _score_chart(m, report) if m.task == "generate" else "",
        _forecast_quality(m),
        _image_quality(m),
        _checks(report),
        _table_columns(report),
        _drawn_or_why(model, settings),
    ]
    for caption, data in _pictures(model):
        parts.append(
            f"<figure>{_img(data, caption)}<figcaption>From the training run: {_e(caption)} "
            "(windows scaled to [0, 1])</figcaption></figure>"
        )
    return "\n".join(p for p in parts if p)
