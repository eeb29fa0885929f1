"""The quality report shipped with every exported model (issue #15): `report.json` (the scores
beside their real floors, per-column checks for tables, the verdict) and `report.html` (the same
as a page, with the run's projection picture inlined), written beside the manifest by
`rnngan export` and served at `GET /v1/models/{name}/report`.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

REPORT_JSON, REPORT_HTML = "report.json", "report.html"

_SCORES = [
    ("discriminative", "discriminative_real_floor", "discriminative (global scaling)"),
    ("predictive", "predictive_real_floor", "predictive (MAE)"),
    ("autocorrelation_error", "autocorrelation_error_real_floor", "autocorrelation error"),
    ("cross_correlation_error", "cross_correlation_error_real_floor", "cross-correlation error"),
]


def _value(x: Any) -> float | None:
    if isinstance(x, dict):
        return float(x["mean"])
    return float(x) if isinstance(x, int | float) else None


def build_report(name: str, version: int, metrics: dict[str, Any] | None) -> dict[str, Any]:
    """The report of a model from its run's metrics.json (None: never evaluated)."""
    if not metrics:
        return {
            "model": name,
            "version": version,
            "evaluated": False,
            "verdict": {
                "passed": False,
                "line": "NOT EVALUATED: run `rnngan evaluate` before export to measure quality",
                "failed": [],
                "collapse_suspected": False,
            },
        }
    scores = []
    for key, floor_key, label in _SCORES:
        if key in metrics:
            entry: dict[str, Any] = {
                "score": label,
                "synthetic": _value(metrics[key]),
                "real_floor": _value(metrics.get(floor_key)),
            }
            if isinstance(metrics[key], dict):
                entry["synthetic_std"] = float(metrics[key].get("std", 0.0))
                entry["runs"] = len(metrics[key].get("runs", []))
            scores.append(entry)
    quality = metrics.get("quality", {})
    if "discriminative_zscored" in quality:
        scores.append(
            {
                "score": "discriminative (per-window z-scored)",
                "synthetic": quality["discriminative_zscored"]["mean"],
                "synthetic_std": quality["discriminative_zscored"]["std"],
                "runs": len(quality["discriminative_zscored"]["runs"]),
                "real_floor": quality["discriminative_zscored_real_floor"]["mean"],
            }
        )
    report: dict[str, Any] = {
        "model": name,
        "version": version,
        "evaluated": True,
        "scores": scores,
        "checks": quality.get("checks", []),
        "verdict": metrics.get("verdict")
        or {
            "passed": False,
            "line": "NO VERDICT: evaluated before quality checks existed; re-run `rnngan evaluate`",
            "failed": [],
            "collapse_suspected": False,
        },
    }
    for key in ("columns", "lengths", "subsampled", "eval_window_length"):
        if key in metrics:
            report[key] = metrics[key]
    # Forecasters: their test scores as they are.
    for key in ("test", "validation", "baselines"):
        if key in metrics:
            report[key] = metrics[key]
    return report


def _fmt(x: Any) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.4g}"
    return html.escape(str(x))


def render_html(report: dict[str, Any], picture: Path | None = None) -> str:
    v = report["verdict"]
    colour = "#1a7f37" if v["passed"] else "#cf222e"
    parts = [
        "<!doctype html><meta charset='utf-8'>",
        f"<title>{html.escape(report['model'])} v{report['version']}: quality</title>",
        "<style>body{font:14px sans-serif;margin:2em;max-width:70em}"
        "td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}</style>",
        f"<h1>{html.escape(report['model'])} v{report['version']}</h1>",
        f"<p style='color:{colour};font-weight:bold'>{html.escape(v['line'])}</p>",
    ]
    if report.get("scores"):
        parts.append("<h2>Scores (lower is better)</h2><table>")
        parts.append("<tr><th>score</th><th>synthetic</th><th>real floor</th><th>runs</th></tr>")
        for s in report["scores"]:
            std = f" ± {s['synthetic_std']:.3f}" if "synthetic_std" in s else ""
            parts.append(
                f"<tr><td>{html.escape(s['score'])}</td><td>{_fmt(s['synthetic'])}{std}</td>"
                f"<td>{_fmt(s['real_floor'])}</td><td>{_fmt(s.get('runs'))}</td></tr>"
            )
        parts.append("</table>")
    if report.get("checks"):
        parts.append("<h2>Checks</h2><table><tr><th>check</th><th>value</th><th>rule</th>")
        parts.append("<th>result</th></tr>")
        for c in report["checks"]:
            ok = "pass" if c["passed"] else "<b style='color:#cf222e'>FAIL</b>"
            parts.append(
                f"<tr><td>{html.escape(c['name'])}</td><td>{_fmt(c['value'])}</td>"
                f"<td>{html.escape(c['rule'])}</td><td>{ok}</td></tr>"
            )
        parts.append("</table>")
    if report.get("columns"):
        parts.append("<h2>Columns (real / synthetic)</h2><table>")
        for name, entry in report["columns"].items():
            details = ", ".join(
                f"{k} {_fmt(val)}" for k, val in entry.items() if k not in ("kind", "static")
            )
            parts.append(
                f"<tr><td>{html.escape(name)}</td><td>{html.escape(entry['kind'])}</td>"
                f"<td>{details}</td></tr>"
            )
        parts.append("</table>")
    if report.get("subsampled"):
        parts.append(f"<p>Subsampled: {_fmt(json.dumps(report['subsampled']))}</p>")
    if picture is not None and picture.is_file():
        data = base64.b64encode(picture.read_bytes()).decode()
        parts.append("<h2>Real vs synthetic</h2>")
        parts.append(f"<img style='max-width:100%' src='data:image/png;base64,{data}'>")
    return "\n".join(parts) + "\n"


def write_report(
    out_dir: Path, name: str, version: int, metrics: dict[str, Any] | None, run_dir: Path
) -> dict[str, Any]:
    """report.json and report.html in `out_dir`; returns the report."""
    report = build_report(name, version, metrics)
    (out_dir / REPORT_JSON).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    (out_dir / REPORT_HTML).write_text(render_html(report, run_dir / "projection.png"))
    return report
