"""Model calls in numpy: noise in, real-unit arrays out. No FastAPI here, so the CLI, the
routes and the benchmarks share it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from rnngan.core.noise import series_noise
from rnngan.core.tables.codec import Decoded, arrow_schema
from rnngan.core.tables.sample import plan_lengths, resolve_condition, synthesize
from rnngan.core.tables.spec import TableError, TableSpec
from service.config import Settings
from service.datasets import encode_stream
from service.errors import InvalidInput, TooLarge
from service.registry import LoadedModel
from service.schemas import DatasetRequest, SamplesRequest

# Sample k of forecast series j uses noise stream position j * _SAMPLES_STRIDE + k, so a
# series' samples do not depend on the other series in the request or on num_samples.
_SAMPLES_STRIDE = 2**24


def generate(
    model: LoadedModel, *, n: int, length: int, seed: int, offset: int = 0, batched: bool = True
) -> np.ndarray:
    """Series `offset … offset+n-1` of `seed`'s stream, shape (n, length, F), float32.
    `batched=False` calls the session directly instead of through the micro-batcher."""
    noise = series_noise(seed, offset, n, length, model.manifest.latent_dim)
    if batched:
        samples = model.run({"noise": noise})
    else:
        (samples,) = model.session.run(model.manifest.onnx.outputs, {"noise": noise})
    return np.asarray(samples, dtype=np.float32)


def generate_chunks(
    model: LoadedModel, *, n: int, length: int, seed: int, offset: int, chunk_series: int
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (first series id, (k, length, F) block) in bounded chunks.

    A chunk is a full batch already, so it goes to the session directly, not through the
    micro-batcher: queued there, a small /samples call would wait behind a whole chunk (p90
    0.2-0.7 s instead of ~11 ms while a download ran, measured on 2 busy cores)."""
    for start in range(offset, offset + n, chunk_series):
        count = min(chunk_series, offset + n - start)
        yield start, generate(model, n=count, length=length, seed=seed, offset=start, batched=False)


def forecast_samples(
    model: LoadedModel, histories: np.ndarray, *, horizon: int, num_samples: int, seed: int
) -> np.ndarray:
    """Sample paths of shape (S, num_samples, horizon) for histories of shape (S, context_len)."""
    n_series, _ = histories.shape
    latent = model.manifest.latent_dim
    noise = np.stack(
        [
            series_noise(seed, j * _SAMPLES_STRIDE, num_samples, horizon, latent)
            for j in range(n_series)
        ]
    )  # (S, N, H, L)
    paths = model.run({"history": histories.astype(np.float32), "noise": noise})
    return np.asarray(paths, dtype=np.float32)


def summarise(paths: np.ndarray, quantiles: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Mean (S, H) and quantiles (Q, S, H) over the sample axis of (S, N, H) paths."""
    mean = paths.mean(axis=1)
    qs = np.quantile(paths, np.asarray(quantiles, dtype=np.float64), axis=1)
    return mean, qs


# --- models trained on a user's table ---


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


def check_plain_request(model: LoadedModel, condition: Any, start: Any, impute: bool) -> None:
    """`condition`, `start` and `impute` only mean something for table models."""
    if condition is not None or start is not None or impute:
        raise InvalidInput(
            f"'condition', 'start' and 'impute' apply to models trained on a table; "
            f"model '{model.name}' is not one."
        )


def plan_table(
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


def table_series(model: LoadedModel, plan: TablePlan, *, seed: int, offset: int, n: int) -> Decoded:
    """Series `offset … offset+n-1` decoded to the user's layout (the session is called
    directly: rows of different requests differ in length and condition)."""
    outputs = model.manifest.onnx.outputs

    def run(noise: np.ndarray, condition: np.ndarray) -> np.ndarray:
        (out,) = model.session.run(outputs, {"noise": noise, "condition": condition})
        return np.asarray(out)

    return synthesize(
        plan.spec,
        run,
        latent_dim=model.manifest.latent_dim,
        n=n,
        seed=seed,
        offset=offset,
        length=plan.length,
        condition=plan.condition,
        start=plan.start,
        impute=plan.impute,
    )


def table_chunks(
    model: LoadedModel, plan: TablePlan, *, seed: int, offset: int, n: int, chunk_rows: int
) -> Iterator[tuple[int, pa.Table]]:
    """(first series id, Arrow table in the user's layout) in chunks of about `chunk_rows`."""
    first = 0
    while first < n:
        # As many series as fit in chunk_rows (at least one).
        cum = np.cumsum(plan.lengths[first:])
        count = max(1, int(np.searchsorted(cum, chunk_rows, side="right")))
        decoded = table_series(model, plan, seed=seed, offset=offset + first, n=count)
        yield offset + first, decoded.to_arrow(plan.spec)
        first += count


def dataset_stream(
    model: LoadedModel,
    body: DatasetRequest,
    settings: Settings,
    *,
    on_rows: Callable[[int], object] = lambda rows: None,
    chunk_series: int | None = None,
) -> Iterator[bytes]:
    """The bytes of a /datasets request (also `rnngan generate`), checked up front: raises
    InvalidInput or TooLarge before the first byte. `on_rows` is told each chunk's row count."""
    if body.format == "parquet" and body.compression != "none":
        raise InvalidInput("compression applies to csv and ndjson; parquet is compressed inside.")
    manifest = model.manifest
    chunks: Iterator[tuple[int, np.ndarray | pa.Table]]
    spec = manifest.table
    table_schema = None
    if spec is not None:
        plan = plan_table(
            model,
            spec,
            body,
            max_length=settings.max_length,
            max_rows=settings.max_dataset_rows,
        )
        chunk_rows = max(1, settings.max_sample_values // spec.channels)

        def table_blocks() -> Iterator[tuple[int, np.ndarray | pa.Table]]:
            for first, table in table_chunks(
                model, plan, seed=body.seed, offset=body.offset, n=body.n, chunk_rows=chunk_rows
            ):
                on_rows(table.num_rows)
                yield first, table

        chunks, table_schema = table_blocks(), arrow_schema(spec)
    else:
        check_plain_request(model, body.condition, body.start, body.impute)
        length = body.length or manifest.seq_len or 1
        if length > settings.max_length:
            raise TooLarge(
                f"length {length} is over this service's limit of {settings.max_length}."
            )
        rows = body.n * length
        if rows > settings.max_dataset_rows:
            raise TooLarge(
                f"n × length = {rows} rows is over this service's limit of "
                f"{settings.max_dataset_rows}; fetch the set in shards with 'offset'."
            )
        chunk = chunk_series or max(
            1, min(settings.dataset_chunk_series, settings.max_sample_values // length)
        )

        def array_blocks() -> Iterator[tuple[int, np.ndarray | pa.Table]]:
            for first, block in generate_chunks(
                model,
                n=body.n,
                length=length,
                seed=body.seed,
                offset=body.offset,
                chunk_series=chunk,
            ):
                on_rows(block.shape[0] * length)
                yield first, block

        chunks = array_blocks()
    return encode_stream(
        chunks,
        features=manifest.features,
        fmt=body.format,
        header=body.offset == 0,
        compression=body.compression,
        table_schema=table_schema,
    )
