"""Bulk generation on Ray (`pip install 'rnngan[ray]'`): `RayEngine` writes a job's parts with
one actor per worker, and `synthetic_dataset` hands the series to Ray Data for your own
transforms and sinks.

Each actor loads the job's model version once (service.registry: sha256 and manifest checks,
one ONNX Runtime session with the service's thread settings: 1 intra-op, 1 inter-op thread,
no spinning; CUDA where the actor was given a GPU and onnxruntime-gpu is installed) and then
writes whole parts. Actors write into the output directory themselves, so on a cluster of
several machines it must be a shared file system mounted at the same path everywhere (as must
the model repository); otherwise use `synthetic_dataset(...).write_parquet("s3://...")`.

    rnngan generate --engine ray --model sines --n 416667 --seed 1 --format parquet \\
        --out out/sines --rows-per-file 1000000            # a local cluster of this machine's CPUs
    rnngan generate --engine ray --address auto ...        # the running cluster (`ray start`)
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

try:
    import ray
    from ray.util import ActorPool
except ImportError as exc:  # the plain and serving installs have no Ray
    raise ImportError("this needs Ray: pip install 'rnngan[ray]' (or use --engine local)") from exc

import pyarrow as pa

from rnngan.scale.parts import (
    Job,
    JobError,
    Part,
    load_exact,
    load_model,
    offline_settings,
    plan_job,
    plan_part,
    write_part,
)
from service.config import Settings

# Idle OpenMP threads must not spin on shared cores (README, Threads); actors inherit this.
WORKER_ENV = {"OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}


def _memory() -> dict[str, int]:
    """This process's resident set now and at its peak, in bytes (Linux /proc)."""
    out = {"rss": 0, "peak_rss": 0}
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out["rss" if key == "VmRSS" else "peak_rss"] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return out


class PartWriter:
    """A Ray actor: the job's model loaded once, then whole parts written on request."""

    def __init__(self, settings: Settings, job: Job) -> None:
        self.settings = settings
        self.model = load_exact(settings, job)

    def write(self, job: Job, part: Part, out_dir: str) -> dict[str, Any]:
        return write_part(self.model, self.settings, job, part, Path(out_dir))

    def stats(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "providers": self.model.providers, **_memory()}


def connect(
    address: str | None = None, *, num_cpus: int | None = None, num_gpus: int | None = None
) -> bool:
    """Join the cluster at `address` ("auto": the one `ray start` runs here), or start a local
    one with `num_cpus` (default: all). True when this call started Ray (so it should stop it)."""
    if ray.is_initialized():
        return False
    options: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "runtime_env": {"env_vars": WORKER_ENV},
        "configure_logging": False,
    }
    if address is None:
        options.update(num_cpus=num_cpus, num_gpus=num_gpus)
        # The parts never travel through the object store (actors write files), so keep it small.
        options["object_store_memory"] = 256 * 2**20
    try:
        ray.init(address=address, **options)
    except ConnectionError as exc:
        raise JobError(f"cannot reach the Ray cluster at {address}: {exc}") from None
    return True


@dataclass
class RayEngine:
    """Writes parts with `workers` actors (default: one per CPU of the cluster, or one per GPU
    with `gpus_per_worker`). A context manager: it starts or joins Ray, and stops what it
    started."""

    settings: Settings
    address: str | None = None
    workers: int | None = None
    num_cpus: int | None = None  # a local cluster's size (ignored with an address)
    gpus_per_worker: float = 0.0
    actors: list[Any] = field(default_factory=list)
    ready_s: float = 0.0  # the last write's actor start-up (model loads included)
    _started: bool = False

    def __enter__(self) -> RayEngine:
        self._started = connect(self.address, num_cpus=self.num_cpus)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        for actor in self.actors:
            ray.kill(actor)
        self.actors = []
        if self._started:
            ray.shutdown()
            self._started = False

    def _size(self) -> int:
        if self.workers:
            return self.workers
        resources = ray.cluster_resources()
        if self.gpus_per_worker > 0:
            return max(1, int(resources.get("GPU", 0) / self.gpus_per_worker))
        return max(1, int(resources.get("CPU", 1)))

    def write(self, job: Job, parts: list[Part], out_dir: Path) -> Iterator[dict[str, Any]]:
        if not parts:
            return
        options: dict[str, Any] = {"num_cpus": 1}
        if self.gpus_per_worker > 0:
            options["num_gpus"] = self.gpus_per_worker
        remote = ray.remote(**options)(PartWriter)
        size = min(self._size(), len(parts))
        began = time.perf_counter()
        self.actors = [remote.remote(self.settings, job) for _ in range(size)]
        self.ready_s = 0.0
        try:
            ray.get([actor.stats.remote() for actor in self.actors])  # each has loaded the model
        except ray.exceptions.RayActorError as exc:
            cause = getattr(exc, "cause", None) or exc
            raise JobError(f"a Ray worker could not start: {cause}") from None
        self.ready_s = time.perf_counter() - began
        pool = ActorPool(self.actors)
        target = str(out_dir.resolve())
        results = pool.map_unordered(
            lambda actor, part: actor.write.remote(job, part, target), parts
        )
        try:
            yield from results
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause if isinstance(exc.cause, Exception) else exc
            raise JobError(f"a Ray worker failed: {cause}") from None
        except ray.exceptions.RayActorError as exc:
            raise JobError(f"a Ray worker died: {exc}; rerun to resume") from None

    def stats(self) -> list[dict[str, Any]]:
        """Each actor's pid, providers and memory (rss, peak_rss in bytes)."""
        return ray.get([actor.stats.remote() for actor in self.actors])


class _SeriesBlocks:
    """Ray Data UDF: a part index in, the part's series out as long Arrow tables, one per chunk
    (`series_id, step, <features>`, or a table model's own columns)."""

    def __init__(self, settings: Settings, job: Job) -> None:
        self.settings, self.job = settings, job
        self.model = load_exact(settings, job)
        self.parts = job.parts()

    def __call__(self, batch: dict[str, Any]) -> Iterator[pa.Table]:
        from service.streaming import generate_chunks, long_table, table_chunks

        for index in batch["index"]:
            part = self.parts[int(index)]
            plan = plan_part(self.model, self.settings, self.job, part)
            if plan.table is not None:
                for _, table in table_chunks(
                    self.model,
                    plan.table,
                    seed=plan.seed,
                    offset=plan.offset,
                    n=plan.n,
                    chunk_rows=plan.chunk,
                ):
                    yield table
                continue
            for first, block in generate_chunks(
                self.model,
                n=plan.n,
                length=plan.length,
                seed=plan.seed,
                offset=plan.offset,
                chunk_series=plan.chunk,
            ):
                yield long_table(first, block, self.model.manifest.features)


def synthetic_dataset(
    model: str,
    n: int,
    seed: int = 0,
    *,
    length: int | None = None,
    offset: int = 0,
    condition: dict[str, Any] | None = None,
    start: str | int | float | None = None,
    impute: bool = False,
    models_dir: str | Path = "models",
    rows_per_block: int = 1_000_000,
    workers: int | None = None,
    gpus_per_worker: float = 0.0,
) -> ray.data.Dataset:
    """Series `offset … offset+n-1` of `model` with `seed` as a lazy Ray Dataset in long format
    (the rows of `rnngan generate`), for your own transforms and sinks:

        ds = synthetic_dataset("sines", n=1_000_000, seed=1)
        ds.filter(lambda row: row["step"] == 0).write_parquet("s3://bucket/sines-first-steps")

    One input block per part of about `rows_per_block` rows; `workers` actors (default: the
    cluster's CPUs) each load the model once. Row order inside a block follows series ids;
    Ray Data may emit blocks in any order (`ds.sort("series_id")` if you need it)."""
    settings = offline_settings(Path(models_dir))
    loaded = load_model(settings, model)
    job = plan_job(
        loaded,
        settings,
        n=n,
        seed=seed,
        offset=offset,
        length=length,
        condition=condition,
        start=start,
        impute=impute,
        rows_per_file=rows_per_block,
    )
    parts = job.parts()
    if workers is None:
        resources = ray.cluster_resources() if ray.is_initialized() else {}
        key, per = ("GPU", gpus_per_worker) if gpus_per_worker > 0 else ("CPU", 1.0)
        workers = max(1, int(resources.get(key, os.cpu_count() or 1) / per))
    items = [{"index": part.index} for part in parts]
    return ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
        _SeriesBlocks,
        fn_constructor_kwargs={"settings": settings, "job": job},
        batch_size=1,
        concurrency=min(workers, len(parts)),
        num_cpus=1,
        num_gpus=gpus_per_worker or None,
    )
