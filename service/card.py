"""The model card: one self-contained HTML page per served model (GET /v1/models/{name}/card).

What the model is (task, family, shapes, features, frequency), the data it was fit on (name,
size; never a path on the training machine), its quality (the stored report.json beside the
manifest when there is one, else the manifest's metrics) with plots in the data's own units,
the verdict, its limits (what it was not scored on, this service's request limits) and how to
call it. Plots are inline SVG (service/svg.py) from stored numbers and from a few outputs the
model draws here with seed 0; pictures the training run left beside the manifest (PNG files,
the projection inside report.html) are embedded as data: URIs. No script, no external request.
"""

from __future__ import annotations

import html
import json
from pathlib import PurePosixPath, PureWindowsPath

from rnngan.core.manifest import Manifest
from service import svg
from service.card_quality import quality_section, read_report
from service.config import Settings
from service.registry import LoadedModel

_STYLE = (
    "body{font:14px/1.45 sans-serif;margin:2em auto;max-width:62em;padding:0 1em;color:#24292f}"
    "h1{margin-bottom:.1em}h2{border-bottom:1px solid #d0d7de;padding-bottom:.2em;margin-top:1.6em}"
    "td,th{padding:2px 10px 2px 0;border-bottom:1px solid #eaeef2;text-align:left;"
    "vertical-align:top}pre{background:#f6f8fa;padding:.7em;white-space:pre-wrap;font-size:12px}"
    ".verdict{font-weight:bold;padding:.5em .8em;border-radius:6px;display:inline-block}"
    ".pass{background:#dafbe1;color:#1a7f37}.fail{background:#ffebe9;color:#cf222e}"
    ".warn{background:#fff8c5;color:#9a6700}"
    ".none{background:#eaeef2;color:#57606a}figure{margin:.5em 0;display:inline-block}"
    "figcaption{color:#57606a;font-size:12px}img.pixels{image-rendering:pixelated}"
)


def _e(x: object) -> str:
    return html.escape(str(x), quote=True)


def _rows(pairs: list[tuple[str, object]]) -> str:
    cells = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in pairs if v != "")
    return f"<table>{cells}</table>"


def family(m: Manifest) -> str:
    """The family table's name for this model (training/families/__init__.py), as the manifest
    records it: task, data set and model.kind."""
    kind = str(m.training.get("model", {}).get("kind", "?"))
    if m.image is not None:
        name = {"label": "ImageGAN", "none": "UncondImageGAN", "text": "TextImageGAN"}
        return f"{name[m.image.conditioning]} (model.kind = {kind})"
    if m.table is not None:
        return f"TableGAN (model.kind = {kind})"
    if m.task == "forecast":
        own = m.training.get("data", {}).get("dataset") == "table"
        return f"{'TableForecast' if own else 'ForGAN'} (model.kind = {kind})"
    return {"timegan": "TimeGAN", "rcgan": "RCGAN"}.get(kind, kind)


def _what(m: Manifest) -> str:
    feats = m.features if len(m.features) <= 12 else [*m.features[:12], "…"]
    shape: list[tuple[str, object]] = [("task", m.task), ("family", family(m))]
    if m.image is not None:
        shape += [
            (
                "images",
                f"{m.image.height} × {m.image.width} pixels, 0 … {svg.fmt(m.image.pixel_max)}",
            ),
            ("conditioning", m.image.conditioning),
            ("classes", ", ".join(m.image.class_names or []) or ""),
        ]
    else:
        shape.append((f"features ({len(m.features)})", ", ".join(feats)))
    shape += [
        ("window length (seq_len)", m.seq_len or ""),
        ("history read (context_len)", m.context_len or ""),
        ("shortest history taken (min_history)", m.min_history or m.context_len or ""),
        ("largest horizon", m.horizon or ""),
        ("frequency", m.freq or ""),
        ("season", m.season or ""),
        ("noise per step (latent_dim)", m.latent_dim),
    ]
    if m.covariates is not None:
        known = []
        if m.covariates.calendar:
            known.append(f"calendar: {', '.join(m.covariates.calendar)}")
        if m.covariates.future:
            known.append(f"known-future columns: {', '.join(m.covariates.future)}")
        if m.covariates.static:
            known.append(
                "static attributes: "
                + ", ".join(
                    f"{a.name} ({' / '.join(a.categories or []) or 'numeric'})"
                    for a in m.covariates.static
                )
            )
        shape.append(("covariates", "; ".join(known)))
    if m.table is not None:
        cols = ", ".join(
            f"{c.name} ({c.kind}{', static' if c.static else ''})" for c in m.table.columns
        )
        shape += [("id column", m.table.id_column), ("columns", cols)]
        if m.table.time is not None:
            shape.append(
                ("time column", f"{m.table.time.column} ({m.table.time.freq or 'irregular'})")
            )
    shape += [("exported by", m.created_by), ("ONNX sha256", m.onnx.sha256[:16] + "…")]
    return f"<p>{_e(m.description)}</p>" + _rows(shape)


def _source_name(source: str) -> str:
    """A file name, never the directory it was read from on the training machine."""
    return PureWindowsPath(PurePosixPath(source).name).name or source


def _data(m: Manifest) -> str:
    d = m.dataset
    rows: list[tuple[str, object]] = [
        ("name", d.name),
        ("source", _source_name(d.source)),
        (
            "columns used",
            f"{len(d.columns)}: {', '.join(d.columns[:12])}{' …' if len(d.columns) > 12 else ''}",
        ),
        ("training windows", f"{d.n_windows:,}"),
        ("training rows", f"[{d.train_rows[0]}, {d.train_rows[1]})" if d.train_rows else ""),
        ("source sha256", f"{d.sha256[:16]}…" if d.sha256 else ""),
        ("training steps", m.training.get("steps_trained", "")),
    ]
    return _rows(rows)


def _limits(m: Manifest, s: Settings) -> str:
    items: list[str] = []
    d = m.dataset.name
    if m.task == "generate":
        seq, width = m.seq_len or 1, max(len(m.features), 1)
        items += [
            f"Scored on {seq}-step windows of {d}; longer series (up to {s.max_length:,} steps) "
            "come from running the recurrence on and were not scored.",
            f"/samples: n × length × features ≤ {s.max_sample_values:,} (at length {seq}: "
            f"n ≤ {s.max_sample_values // (seq * width):,}); /datasets: n × length ≤ "
            f"{s.max_dataset_rows:,} rows.",
        ]
        if m.table is not None:
            items.append(
                "Conditions on static combinations not in the training table were not scored."
            )
    elif m.task == "forecast":
        items += [
            f"Scored only on {d} ({', '.join(m.features)}), horizon {m.horizon}, from "
            + (f"{m.min_history}–" if m.min_history else "")
            + f"{m.context_len} values of history; on other series its accuracy is unmeasured.",
            f"horizon ≤ {m.horizon}; history ≥ {m.min_history or m.context_len} and "
            f"≤ {s.max_history:,} values"
            + (
                f" (shorter than {m.context_len}: padded, the graph fills the oldest values "
                "from the earliest observed season)"
                if m.min_history
                else ""
            )
            + "; "
            f"≤ {s.max_forecast_series} series and ≤ {s.max_num_samples} samples per request; "
            f"series × num_samples × horizon ≤ {s.max_forecast_values:,}.",
        ]
    elif m.image is not None:
        items.append(f"Scored on {d} ({m.image.height} × {m.image.width}); nothing else.")
        if m.image.conditioning == "text" and m.image.vocab:
            items.append(
                f"Prompts: at most {m.image.max_prompt_len} words out of a {len(m.image.vocab)}-"
                "word vocabulary; other words are read as <unk>."
            )
        items.append(f"≤ {s.max_images:,} images per /images request; /datasets for more.")
    return "<ul>" + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>"


def _calls(m: Manifest, base: str, api_keys: bool) -> str:
    auth = " -H 'Authorization: Bearer $RNNGAN_API_KEY'" if api_keys else ""
    url = f"{base}/v1/models/{m.name}"
    post = f"curl -X POST{auth} -H 'Content-Type: application/json'"
    lines = [f"curl{auth} {url}"]
    if m.task == "generate":
        body = (
            '{"n": 4, "seed": 1}'
            if m.table is not None
            else f'{{"n": 4, "length": {m.seq_len}, "seed": 1}}'
        )
        lines += [
            f"{post} {url}/samples -d '{body}'",
            f'{post} {url}/datasets -d \'{{"n": 1000, "seed": 1, "format": "parquet"}}\''
            f" -o {m.name}.parquet",
        ]
    elif m.task == "forecast":
        # context_len values of a cycle of the model's season, built as the README does; a
        # model with covariates also gets the history's timestamps and its future columns (0).
        period, n, cov = m.season or 24, m.context_len, m.covariates
        values = f"[20 + 5 * math.sin(2 * math.pi * i / {period}) for i in range({n})]"
        extra, imports = "", "json, math"
        if cov is not None and m.freq:
            imports += ", pandas as pd"
            stamps = f'pd.date_range("2024-01-01", periods={n}, freq="{m.freq}")'
            extra += f', "timestamps": [t.isoformat() for t in {stamps}]'
        if cov is not None and cov.future:
            extra += ', "covariates": {' + ", ".join(f'"{c}": [0] * {n}' for c in cov.future)
            extra += '}, "future": {' + ", ".join(f'"{c}": [0] * {m.horizon}' for c in cov.future)
            extra += "}"
        if cov is not None and cov.static:
            first = {
                a.name: (a.categories or ["?"])[0] if a.kind == "categorical" else 0
                for a in cov.static
            }
            extra += ', "static": ' + json.dumps(first).replace("'", "")
        body = (
            f'{{"series": [{{"id": "a", "values": {values}{extra}}}], "horizon": {m.horizon}, '
            '"quantiles": [0.1, 0.5, 0.9]}'
        )
        lines.append(
            f"python3 -c 'import {imports}; print(json.dumps({body}))'"
            f" | {post} {url}/forecast -d @-"
        )
    elif m.image is not None:
        cond = {"label": ', "label": 3', "text": ', "prompt": "a handwritten seven"', "none": ""}
        lines.append(
            f'{post} {url}/images -d \'{{"n": 16, "seed": 1{cond[m.image.conditioning]}}}\''
            f" -o {m.name}.png"
        )
    return "<pre>" + _e("\n".join(lines)) + "</pre>"


def render_card(model: LoadedModel, settings: Settings, *, base_url: str, api_keys: bool) -> str:
    m = model.manifest
    report = read_report(model)
    links = [f"<a href='/v1/models/{_e(m.name)}'>manifest (JSON)</a>", "<a href='/docs'>API</a>"]
    if report is not None:
        links.insert(1, f"<a href='/v1/models/{_e(m.name)}/report'>quality report (JSON)</a>")
    return (
        "\n".join(
            [
                "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
                f"<title>{_e(m.name)} v{m.version}: model card</title>",
                f"<style>{_STYLE}</style></head><body>",
                f"<h1>{_e(m.name)} <small>v{m.version}</small></h1>",
                "<h2>What it is</h2>",
                _what(m),
                "<h2>Data</h2>",
                _data(m),
                "<h2>Quality</h2>",
                quality_section(model, settings, report),
                "<h2>Limits</h2>",
                _limits(m, settings),
                "<h2>How to call it</h2>",
                _calls(m, base_url.rstrip("/"), api_keys),
                f"<p>{' · '.join(links)}</p>",
                "</body></html>",
            ]
        )
        + "\n"
    )
