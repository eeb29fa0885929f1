"""Small inline SVG charts for the model card (service/card.py): line panels and horizontal bars,
drawn from numbers the service already has, so the card needs no matplotlib and no network.
Every label is escaped; numbers are printed with 4 significant digits."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

COLOURS = ("#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700", "#57606a")
_FONT = "font-family='sans-serif' font-size='11'"


def fmt(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "—"
    return f"{x:.4g}"


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _svg(width: int, height: int, body: list[str], label: str) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img' aria-label='{_esc(label)}'>"
        f"<title>{_esc(label)}</title>" + "".join(body) + "</svg>"
    )


def lines(
    series: Sequence[Sequence[float]],
    *,
    title: str,
    band: tuple[float, float] | None = None,
    width: int = 300,
    height: int = 170,
) -> str:
    """One panel: each of `series` as a polyline over its steps; `band` (low, high) drawn as
    dashed lines (e.g. the training data's range). The y axis is in the values' own units."""
    left, right, top, bottom = 48, 8, 20, 22
    values = [v for s in series for v in s if math.isfinite(v)]
    if band is not None:
        values += list(band)
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    pad = (hi - lo) * 0.05
    lo, hi = lo - pad, hi + pad
    steps = max((len(s) for s in series), default=1)
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(i: int) -> float:
        return left + plot_w * (i / max(steps - 1, 1))

    def y(v: float) -> float:
        return top + plot_h * (1 - (v - lo) / (hi - lo))

    body = [
        f"<text x='{left}' y='13' {_FONT} font-weight='bold'>{_esc(title)}</text>",
        f"<rect x='{left}' y='{top}' width='{plot_w}' height='{plot_h}' fill='none' "
        "stroke='#d0d7de'/>",
    ]
    for v in (lo + pad, (lo + hi) / 2, hi - pad):
        body.append(
            f"<text x='{left - 4}' y='{y(v) + 4:.1f}' {_FONT} text-anchor='end'>{fmt(v)}</text>"
        )
    body.append(f"<text x='{left}' y='{height - 6}' {_FONT}>step 0</text>")
    body.append(
        f"<text x='{width - right}' y='{height - 6}' {_FONT} text-anchor='end'>{steps - 1}</text>"
    )
    if band is not None:
        for v in band:
            body.append(
                f"<line x1='{left}' x2='{left + plot_w}' y1='{y(v):.1f}' y2='{y(v):.1f}' "
                "stroke='#57606a' stroke-dasharray='4 3'/>"
            )
    for k, s in enumerate(series):
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(s) if math.isfinite(v))
        body.append(
            f"<polyline points='{points}' fill='none' stroke='{COLOURS[k % len(COLOURS)]}' "
            "stroke-width='1.5'/>"
        )
    return _svg(width, height, body, title)


def bars(
    rows: Sequence[tuple[str, Sequence[tuple[str, float | None]]]],
    *,
    title: str,
    errors: Sequence[Sequence[float | None]] | None = None,
    width: int = 560,
) -> str:
    """Horizontal bars: one group per row (its label on the left), one bar per (name, value) in
    the group, coloured by position, the value printed after it; `errors[r][b]` draws a
    ± whisker. All groups share one axis starting at 0 (or at the smallest negative value)."""
    label_w, bar_h, gap, top = 190, 13, 8, 24
    names = [name for _, group in rows[:1] for name, _ in group]
    values = [v for _, g in rows for _, v in g if v is not None and math.isfinite(v)]
    spans = [
        (v or 0.0) + (e or 0.0)
        for r, (_, g) in enumerate(rows)
        for b, (_, v) in enumerate(g)
        for e in [errors[r][b] if errors is not None else None]
    ]
    hi = max([*values, *spans, 0.0]) or 1.0
    lo = min([*values, 0.0])
    plot_w = width - label_w - 70
    height = top + sum(len(g) * bar_h + gap for _, g in rows) + 22

    def x(v: float) -> float:
        return label_w + plot_w * (v - lo) / (hi - lo)

    body = [f"<text x='0' y='13' {_FONT} font-weight='bold'>{_esc(title)}</text>"]
    for k, name in enumerate(names):
        body.append(
            f"<rect x='{label_w + 110 * k}' y='{height - 14}' width='10' height='10' "
            f"fill='{COLOURS[k % len(COLOURS)]}'/><text x='{label_w + 110 * k + 14}' "
            f"y='{height - 5}' {_FONT}>{_esc(name)}</text>"
        )
    cursor = top
    for r, (label, group) in enumerate(rows):
        body.append(
            f"<text x='{label_w - 6}' y='{cursor + bar_h * len(group) / 2 + 4:.1f}' {_FONT} "
            f"text-anchor='end'>{_esc(label)}</text>"
        )
        for b, (_, v) in enumerate(group):
            if v is not None and math.isfinite(v):
                x0, x1 = sorted((x(0.0), x(v)))
                body.append(
                    f"<rect x='{x0:.1f}' y='{cursor}' width='{max(x1 - x0, 1):.1f}' "
                    f"height='{bar_h - 2}' fill='{COLOURS[b % len(COLOURS)]}'/>"
                )
                err = errors[r][b] if errors is not None else None
                if err:
                    mid = cursor + (bar_h - 2) / 2
                    body.append(
                        f"<line x1='{x(v - err):.1f}' x2='{x(v + err):.1f}' y1='{mid:.1f}' "
                        f"y2='{mid:.1f}' stroke='#24292f'/>"
                    )
                body.append(
                    f"<text x='{max(x1, x(v + (err or 0))) + 4:.1f}' y='{cursor + bar_h - 3}' "
                    f"{_FONT}>{fmt(v)}</text>"
                )
            cursor += bar_h
        cursor += gap
    return _svg(width, height, body, title)
