"""A bulk job and its parts: which series each part file holds, and how one part is written.

The bytes of a part come from the same code as `rnngan generate` and POST /datasets
(`service.plans.plan_dataset` + `service.streaming.dataset_stream`) with the same chunk size, so
part `k` equals `rnngan generate --n <n_k> --offset <start_k>` byte for byte. Series `i` depends
only on `(seed, i)` (rnngan/core/noise.py), which is what lets any worker write any part.

Plain models: a part holds `rows_per_file // length` series (at least one). Models trained on a
table have series of different lengths: a part holds `rows_per_file / mean length` series
(rounded, at least one), the mean of the training entities' lengths (or `length` when given),
so a part has about `rows_per_file` rows, not exactly.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from service.config import Settings
from service.errors import ServiceError
from service.registry import LoadedModel, ModelRefused, Registry

# The CLI's `--chunk-series` default: parts must use it to equal the single-process file
# (parquet writes one row group per chunk).
CHUNK_SERIES = 4096
TEMP_MARK = ".tmp-"  # `.part-00003.parquet.tmp-<hex>`: hidden, never mistaken for a part


class JobError(Exception):
    """A job that cannot run as asked; the message says what to do (the CLI exits 2)."""


def offline_settings(models_dir: Path, **overrides: Any) -> Settings:
    """The CLI's settings: RNNGAN_* variables apply (threads, device), but no row or length
    limits (offline there is no server to protect) and no micro-batcher (chunks are batches)."""
    options: dict[str, Any] = {
        "models_dir": Path(models_dir),
        "max_dataset_rows": 2**62,
        "max_length": 2**31,
        "batch_max_rows": 0,
    }
    options.update(overrides)
    return Settings(**options)


@dataclass(frozen=True)
class Part:
    index: int
    start: int  # first series id
    n: int  # series
    file: str  # part-00000.parquet


@dataclass(frozen=True)
class Job:
    """Everything that decides the bytes of every part (and so what a rerun may keep)."""

    model: str
    version: int
    onnx_sha256: str
    seed: int
    offset: int
    n: int
    length: int | None
    format: str
    compression: str
    condition: dict[str, Any] | None
    start: str | int | float | None
    impute: bool
    rows_per_file: int
    series_per_part: int
    chunk_series: int = CHUNK_SERIES
    version_dir: str = field(default="", compare=False)  # where workers load the model from

    def identity(self) -> dict[str, Any]:
        out = asdict(self)
        del out["version_dir"]
        return out

    @property
    def extension(self) -> str:
        return self.format + (".gz" if self.compression == "gzip" else "")

    def parts(self) -> list[Part]:
        out, end = [], self.offset + self.n
        for index, start in enumerate(range(self.offset, end, self.series_per_part)):
            n = min(self.series_per_part, end - start)
            out.append(Part(index, start, n, f"part-{index:05d}.{self.extension}"))
        return out

    def request(self, part: Part) -> dict[str, Any]:
        """The /datasets body (and `rnngan generate` options) that equals this part."""
        return {
            "n": part.n,
            "offset": part.start,
            "length": self.length,
            "seed": self.seed,
            "format": self.format,
            "compression": self.compression,
            "condition": self.condition,
            "start": self.start,
            "impute": self.impute,
        }


def load_model(settings: Settings, name: str) -> LoadedModel:
    """The highest good version of `name` (as the CLI and the service pick it)."""
    registry = Registry(settings)
    registry.reload()
    loaded = registry.get(name)
    if loaded is None:
        raise JobError(
            f"model '{name}' not found in {settings.models_dir}; found: {sorted(registry.models)}"
        )
    if loaded.manifest.task != "generate":
        raise JobError(f"model '{name}' is a {loaded.manifest.task} model, not a generate model")
    return loaded


def load_exact(settings: Settings, job: Job) -> LoadedModel:
    """A worker's model: exactly the job's version, refused if its ONNX file changed since."""
    try:
        loaded = Registry(settings).load_version(Path(job.version_dir))
    except ModelRefused as exc:
        raise JobError(f"model {job.model}/{job.version} cannot be loaded: {exc}") from None
    if loaded.manifest.onnx.sha256 != job.onnx_sha256:
        raise JobError(f"model {job.model}/{job.version} changed while the job ran; rerun it")
    return loaded


def plan_job(
    loaded: LoadedModel,
    settings: Settings,
    *,
    n: int,
    seed: int,
    offset: int = 0,
    length: int | None = None,
    format: str = "parquet",
    compression: str = "none",
    condition: dict[str, Any] | None = None,
    start: str | int | float | None = None,
    impute: bool = False,
    rows_per_file: int,
    chunk_series: int = CHUNK_SERIES,
) -> Job:
    """Split series `offset … offset+n-1` into parts of about `rows_per_file` rows; the first
    part is planned as a request, so a bad option fails here, before anything is written."""
    if rows_per_file < 1:
        raise JobError(f"--rows-per-file must be at least 1 (got {rows_per_file})")
    if chunk_series < 1:
        raise JobError(f"--chunk-series must be at least 1 (got {chunk_series})")
    manifest = loaded.manifest
    if manifest.table is not None:
        spec = manifest.table
        pairs = zip(spec.length_values, spec.length_counts, strict=True)
        mean = length or sum(v * c for v, c in pairs) / max(1, sum(spec.length_counts))
        per_part = max(1, round(rows_per_file / mean))
    else:
        per_part = max(1, rows_per_file // (length or manifest.seq_len or 1))
    job = Job(
        model=manifest.name,
        version=manifest.version,
        onnx_sha256=manifest.onnx.sha256,
        seed=seed,
        offset=offset,
        n=n,
        length=length,
        format=format,
        compression=compression,
        condition=condition,
        start=start,
        impute=impute,
        rows_per_file=rows_per_file,
        series_per_part=min(per_part, n),
        chunk_series=chunk_series,
        version_dir=str(loaded.path),
    )
    plan_part(loaded, settings, job, job.parts()[0])
    return job


def plan_part(loaded: LoadedModel, settings: Settings, job: Job, part: Part) -> Any:
    from pydantic import ValidationError

    from service.plans import plan_dataset
    from service.schemas import DatasetRequest

    try:
        request = DatasetRequest.model_validate(job.request(part))
        return plan_dataset(loaded, request, settings, chunk_series=job.chunk_series)
    except ValidationError as exc:
        raise JobError(
            "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        ) from None
    except ServiceError as exc:
        raise JobError(exc.detail) from None


def write_part(
    loaded: LoadedModel, settings: Settings, job: Job, part: Part, out_dir: Path
) -> dict[str, Any]:
    """Write one part under a temporary name, then rename it into place; its record for
    `_SUCCESS` (file, start, n, rows, bytes, sha256, providers). A failure leaves no part."""
    from service.streaming import dataset_stream

    plan = plan_part(loaded, settings, job, part)
    rows = 0

    def count(k: int) -> None:
        nonlocal rows
        rows += k

    final = out_dir / part.file
    temp = out_dir / f".{part.file}{TEMP_MARK}{uuid.uuid4().hex[:12]}"
    digest, size = hashlib.sha256(), 0
    try:
        with temp.open("wb") as sink:
            for data in dataset_stream(loaded, plan, on_rows=count):
                sink.write(data)
                digest.update(data)
                size += len(data)
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(temp, final)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return {
        "file": part.file,
        "index": part.index,
        "start": part.start,
        "n": part.n,
        "rows": rows,
        "bytes": size,
        "sha256": digest.hexdigest(),
        "providers": loaded.providers,
    }


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
