"""Every 413 and 422 a request's values can earn, decided in one place, before any work
(forecasts: service/plans/forecast.py; image models: service/plans/images.py; both re-exported
here).

A `plan_*` function per request kind checks the body against the model and the settings
(sizes, shapes, histories, table conditions) and returns a plan: the validated numbers the
route, the CLI or the stream then execute without checking anything again. Static bounds
(types, `ge=1`, quantile levels in (0, 1)) are the schemas' (service/schemas.py); the body size
is the body-limit middleware's; a model of the wrong task is `deps.lookup`'s.

The checks run in a fixed order, so a request with several faults always gets the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from rnngan.core.tables.sample import plan_lengths, resolve_condition
from rnngan.core.tables.spec import TableError, TableSpec
from service.config import Settings
from service.errors import InvalidInput, TooLarge
from service.plans.forecast import ForecastPlan, plan_forecast
from service.plans.images import ImagePlan, plan_image_dataset, plan_images
from service.registry import LoadedModel
from service.schemas import DatasetRequest, SamplesRequest


@dataclass(frozen=True)
class TablePlan:
    """A checked table request: the resolved condition and start, and each series' length."""

    spec: TableSpec
    condition: dict[str, Any]
    start: float | None
    length: int | None  # as requested (None: drawn per series)
    lengths: np.ndarray  # (n,) each series' length
    impute: bool

    @property
    def rows(self) -> int:
        return int(self.lengths.sum())


@dataclass(frozen=True)
class SamplesPlan:
    """A checked /samples request for a plain generator: n series of `length` steps."""

    n: int
    length: int
    seed: int

    @property
    def rows(self) -> int:
        return self.n * self.length


@dataclass(frozen=True)
class DatasetPlan:
    """A checked /datasets request (also `rnngan generate`): series `offset … offset+n-1`,
    `chunk` series (plain) or about `chunk` rows (table) per streamed chunk."""

    n: int
    seed: int
    offset: int
    format: Literal["csv", "parquet", "ndjson"]
    compression: Literal["none", "gzip"]
    length: int  # plain models; 0 for a table model (its plan holds each series' length)
    chunk: int
    table: TablePlan | None

    @property
    def header(self) -> bool:
        """csv and ndjson carry a header only at offset 0, so shards concatenate."""
        return self.offset == 0


def plan_samples(
    model: LoadedModel, body: SamplesRequest, settings: Settings
) -> SamplesPlan | TablePlan:
    spec = model.manifest.table
    if spec is not None:
        # The /samples limit is on values: rows × the model's channels.
        max_rows = settings.max_sample_values // spec.channels
        return _plan_table(model, spec, body, max_length=settings.max_length, max_rows=max_rows)
    _refuse_table_options(model, body)
    length = _plain_length(model, body, settings)
    values = body.n * length * len(model.manifest.features)
    if values > settings.max_sample_values:
        raise TooLarge(
            f"n × length × features = {values} is over this service's limit of "
            f"{settings.max_sample_values} values per /samples request; use /datasets for bulk."
        )
    return SamplesPlan(n=body.n, length=length, seed=body.seed)


def plan_dataset(
    model: LoadedModel, body: DatasetRequest, settings: Settings, *, chunk_series: int | None = None
) -> DatasetPlan:
    """`chunk_series` overrides the chunk size of plain models (the CLI's `--chunk-series`)."""
    if body.format == "parquet" and body.compression != "none":
        raise InvalidInput("compression applies to csv and ndjson; parquet is compressed inside.")
    if body.label is not None or body.prompt is not None:
        raise InvalidInput(
            f"'label' and 'prompt' apply to image models; model '{model.name}' is not one."
        )
    spec = model.manifest.table
    table = None
    if spec is not None:
        table = _plan_table(
            model, spec, body, max_length=settings.max_length, max_rows=settings.max_dataset_rows
        )
        length, chunk = 0, max(1, settings.max_sample_values // spec.channels)
    else:
        _refuse_table_options(model, body)
        length = _plain_length(model, body, settings)
        rows = body.n * length
        if rows > settings.max_dataset_rows:
            raise TooLarge(
                f"n × length = {rows} rows is over this service's limit of "
                f"{settings.max_dataset_rows}; fetch the set in shards with 'offset'."
            )
        chunk = chunk_series or max(
            1, min(settings.dataset_chunk_series, settings.max_sample_values // length)
        )
    return DatasetPlan(
        n=body.n,
        seed=body.seed,
        offset=body.offset,
        format=body.format,
        compression=body.compression,
        length=length,
        chunk=chunk,
        table=table,
    )


def _refuse_table_options(model: LoadedModel, body: SamplesRequest) -> None:
    """`condition`, `start` and `impute` only mean something for table models."""
    if body.condition is not None or body.start is not None or body.impute:
        raise InvalidInput(
            f"'condition', 'start' and 'impute' apply to models trained on a table; "
            f"model '{model.name}' is not one."
        )


def _plain_length(model: LoadedModel, body: SamplesRequest, settings: Settings) -> int:
    length = body.length or model.manifest.seq_len or 1
    if length > settings.max_length:
        raise TooLarge(f"length {length} is over this service's limit of {settings.max_length}.")
    return length


def _plan_table(
    model: LoadedModel, spec: TableSpec, body: SamplesRequest, *, max_length: int, max_rows: int
) -> TablePlan:
    """Check a table request (422 naming the bad column or value, 413 over a limit); /datasets
    bodies carry an `offset`, /samples bodies start at series 0."""
    n, length, seed, start = body.n, body.length, body.seed, body.start
    offset = body.offset if isinstance(body, DatasetRequest) else 0
    if n * (length or min(spec.length_values)) > max_rows:  # before drawing n lengths
        raise TooLarge(
            f"{n} series of at least {length or min(spec.length_values)} steps are over this "
            f"service's limit of {max_rows} rows per request; fetch them in shards with 'offset' "
            "(bulk: /datasets)."
        )
    try:
        resolved = resolve_condition(spec, body.condition or {})
        first = spec.time.parse(start) if start is not None and spec.time is not None else None
    except TableError as exc:
        raise InvalidInput(str(exc)) from None
    if start is not None and spec.time is None:
        raise InvalidInput(f"model '{model.name}' has no time column, so 'start' does not apply.")
    lengths = plan_lengths(spec, seed=seed, offset=offset, n=n, length=length)
    longest = int(lengths.max())
    rows = int(lengths.sum())
    if rows > max_rows:
        raise TooLarge(
            f"{rows} rows is over this service's limit of {max_rows} rows per request; "
            "fetch them in shards with 'offset' (bulk: /datasets)."
        )
    if longest > max_length:
        raise TooLarge(
            f"series of {longest} steps are over this service's limit of {max_length}; "
            "ask for a shorter 'length'."
        )
    return TablePlan(spec, resolved, first, length, lengths, body.impute)


__all__ = [
    "DatasetPlan",
    "ForecastPlan",
    "ImagePlan",
    "SamplesPlan",
    "TablePlan",
    "plan_dataset",
    "plan_forecast",
    "plan_image_dataset",
    "plan_images",
    "plan_samples",
]
