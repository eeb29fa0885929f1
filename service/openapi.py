"""The OpenAPI document behind /docs, made to work with "Try it out": named request examples
that a served model accepts, the served model names on every `{name}` parameter (read off the
repository, so they follow reloads), readable operation ids, and the bearer scheme when API
keys are configured (Swagger's Authorize button).

Examples are attached by request schema (`SamplesRequest`, `DatasetRequest`, ...), so every
route taking that body gets them. Each example says which models it fits (`BodyExample.fits`);
tests/service/test_openapi.py sends each one, as /openapi.json publishes it, to such a model.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from rnngan.core.manifest import Manifest
from service.auth import GUARDED_PREFIXES

SECURITY_SCHEME = "bearerAuth"

# The README's own-table walkthrough (examples/tables.py: 60 stores, a static `region`).
_TABLE_CONDITION = {"region": "north"}


def operation_id(route: APIRoute) -> str:
    """The route function's name (`forecast`, `samples`, `list_models` ...), not FastAPI's
    `forecast_v1_models__name__forecast_post`."""
    return route.name.removesuffix("_route")


@dataclass(frozen=True)
class BodyExample:
    key: str
    summary: str
    value: dict[str, Any]
    fits: Callable[[Manifest], bool]


def is_series(m: Manifest) -> bool:
    return m.task == "generate" and m.table is None


def is_table(m: Manifest) -> bool:
    return m.task == "generate" and m.table is not None


def _image(conditioning: str) -> Callable[[Manifest], bool]:
    return lambda m: m.image is not None and m.image.conditioning == conditioning


def _forecast_history(m: Manifest) -> list[float]:
    """`context_len` values of a daily-looking cycle (period: the model's season, else 24)."""
    period = m.season or 24
    assert m.context_len is not None
    return [round(20 + 5 * math.sin(2 * math.pi * i / period), 2) for i in range(m.context_len)]


def _forecast_series(m: Manifest) -> dict[str, Any]:
    """One series a forecaster accepts: its history, and for a model with covariates the
    history's timestamps (one `freq` apart), each known-future column, 0 throughout, and each
    static attribute (a categorical one's first category, a numeric one 0)."""
    series: dict[str, Any] = {"id": "demo", "values": _forecast_history(m)}
    if m.covariates is None:
        return series
    assert m.context_len is not None and m.horizon is not None
    if m.freq:
        from rnngan.core.calendar import next_stamps  # pandas, only for such a model

        series["timestamps"] = next_stamps("2024-01-01T00:00:00", m.freq, m.context_len)
    if m.covariates.future:
        series["covariates"] = {c: [0.0] * m.context_len for c in m.covariates.future}
        series["future"] = {c: [0.0] * m.horizon for c in m.covariates.future}
    if m.covariates.static:
        series["static"] = {
            a.name: (a.categories or ["?"])[0] if a.kind == "categorical" else 0.0
            for a in m.covariates.static
        }
    return series


def _named(name: str) -> Callable[[Manifest], bool]:
    return lambda m: m.name == name


def _forecast_examples(manifests: Iterable[Manifest]) -> list[BodyExample]:
    out = []
    for m in manifests:
        if m.task != "forecast":
            continue
        out.append(
            BodyExample(
                key=m.name,
                summary=f"{m.name}: {m.context_len} values of history, horizon {m.horizon}"
                + (", with its covariates" if m.covariates is not None else ""),
                value={
                    "series": [_forecast_series(m)],
                    "horizon": m.horizon,
                    "quantiles": [0.1, 0.5, 0.9],
                    "num_samples": 200,
                    "seed": 0,
                },
                fits=_named(m.name),
            )
        )
    if not out:  # no forecaster served: one for a model that needs at most 168 values
        generic = [round(20 + 5 * math.sin(2 * math.pi * i / 24), 2) for i in range(168)]
        out.append(
            BodyExample(
                key="forecast",
                summary="168 values of history, the model's horizon",
                value={"series": [{"id": "demo", "values": generic}], "quantiles": [0.1, 0.9]},
                fits=lambda m: (
                    m.task == "forecast" and (m.context_len or 0) <= 168 and m.covariates is None
                ),
            )
        )
    return out


def body_examples(schema: str, manifests: Iterable[Manifest]) -> list[BodyExample]:
    """The named examples of request schema `schema` (the first is Swagger's default)."""
    if schema == "SamplesRequest":
        return [
            BodyExample(
                "series", "Series (e.g. sines)", {"n": 8, "length": 24, "seed": 1}, is_series
            ),
            BodyExample(
                "table",
                "A model trained on your own table (the README's stores)",
                {
                    "n": 2,
                    "length": 6,
                    "seed": 1,
                    "start": "2025-01-01T00:00:00",
                    "condition": _TABLE_CONDITION,
                },
                is_table,
            ),
        ]
    if schema == "DatasetRequest":
        return [
            BodyExample(
                "csv",
                "Series as csv",
                {"n": 1000, "length": 24, "seed": 1, "format": "csv"},
                is_series,
            ),
            BodyExample(
                "parquet_shard",
                "Series 1000 … 1999 as parquet (a second shard)",
                {"n": 1000, "length": 24, "seed": 1, "format": "parquet", "offset": 1000},
                is_series,
            ),
            BodyExample(
                "ndjson_gzip",
                "Series as gzip-compressed ndjson",
                {"n": 100, "length": 24, "seed": 1, "format": "ndjson", "compression": "gzip"},
                is_series,
            ),
            BodyExample(
                "table",
                "Your own table's layout, one static attribute held fixed",
                {"n": 100, "seed": 1, "format": "parquet", "condition": _TABLE_CONDITION},
                is_table,
            ),
            BodyExample(
                "images",
                "Images as parquet rows (image models: image i draws class i mod 10)",
                {"n": 100, "seed": 1, "format": "parquet"},
                lambda m: m.task == "image",
            ),
            BodyExample(
                "images_prompt",
                "Images from one prompt, as parquet rows (text image models)",
                {"n": 100, "seed": 1, "format": "parquet", "prompt": "a handwritten seven"},
                _image("text"),
            ),
        ]
    if schema == "ImagesRequest":
        return [
            BodyExample(
                "label",
                "A PNG grid of one digit (label image models, e.g. digits)",
                {"n": 16, "seed": 1, "label": 3, "format": "png"},
                _image("label"),
            ),
            BodyExample(
                "prompt",
                "A PNG grid from a prompt (text image models, e.g. digits_text)",
                {"n": 16, "seed": 1, "prompt": "a handwritten seven", "format": "png"},
                _image("text"),
            ),
            BodyExample(
                "json",
                "Pixel values as JSON (label image models)",
                {"n": 2, "seed": 1, "label": 7, "format": "json"},
                _image("label"),
            ),
        ]
    if schema == "ForecastRequest":
        return _forecast_examples(manifests)
    return []


# Which models a `{name}` path parameter lists, by the route's resource, in the order
# Swagger shows them (its first is prefilled, so it fits the body's first example).
_ROUTE_TASKS: dict[str, tuple[str, ...]] = {
    "samples": ("generate",),
    "datasets": ("generate", "image"),
    "forecast": ("forecast",),
    "images": ("image",),
}


def _name_examples(path: str, manifests: list[Manifest]) -> dict[str, Any]:
    # The resource after the name: /samples, /datasets/checksum, /versions/{v}/forecast ...
    tasks = next((_ROUTE_TASKS[s] for s in reversed(path.split("/")) if s in _ROUTE_TASKS), None)
    fitting = [m for m in manifests if tasks is None or m.task in tasks]
    if tasks is not None:
        fitting.sort(key=lambda m: (tasks.index(m.task), m.table is not None, m.name))
    return {
        m.name: {"summary": f"{m.task}: {m.description or m.name}"[:120], "value": m.name}
        for m in fitting
    }


def _body_schema(operation: dict[str, Any]) -> str | None:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    ref = content.get("schema", {}).get("$ref", "")
    return ref.rsplit("/", 1)[-1] or None


def patch_schema(
    schema: dict[str, Any], manifests: list[Manifest], *, api_keys: bool
) -> dict[str, Any]:
    """A copy of `schema` with examples, model names and (with keys) the security scheme."""
    schema = copy.deepcopy(schema)
    manifests = sorted(manifests, key=lambda m: m.name)
    served = ", ".join(f"{m.name} ({m.task})" for m in manifests) or "none"
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            for param in operation.get("parameters", []):
                if param.get("in") == "path" and param.get("name") == "name":
                    param["description"] = f"the model's name; served now: {served}"
                    examples = _name_examples(path, manifests)
                    if examples:
                        param["examples"] = examples
            body = _body_schema(operation)
            if body is not None:
                named = body_examples(body, manifests)
                if named:
                    media = operation["requestBody"]["content"]["application/json"]
                    media["examples"] = {
                        e.key: {"summary": e.summary, "value": e.value} for e in named
                    }
            if api_keys and path.startswith(GUARDED_PREFIXES):
                operation["security"] = [{SECURITY_SCHEME: []}]
    if api_keys:
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes[SECURITY_SCHEME] = {
            "type": "http",
            "scheme": "bearer",
            "description": "one of the service's API keys (RNNGAN_API_KEYS)",
        }
    return schema


def install_openapi(
    app: FastAPI, manifests: Callable[[], list[Manifest]], *, api_keys: bool
) -> None:
    """Serve `patch_schema` of the app's schema, recomputed when the served models change."""
    base = app.openapi
    cache: dict[tuple[tuple[str, int, str], ...], dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        current = manifests()
        key = tuple(sorted((m.name, m.version, m.onnx.sha256) for m in current))
        if key not in cache:
            cache.clear()
            cache[key] = patch_schema(base(), current, api_keys=api_keys)
        return cache[key]

    app.openapi = openapi  # type: ignore[method-assign]
