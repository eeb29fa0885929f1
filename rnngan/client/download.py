"""Synthetic data from a server: `sample` (a frame) and `download` (a big file, in parallel
shards by `offset`, each verified, resumable after a crash).

How `download` works. The series `offset … offset+n-1` are cut into `shards` contiguous ranges;
each is fetched by its own `POST /datasets` (with `Want-Content-Digest: sha-256`) into
`.<name>.parts/shard-<k>` beside the target, `workers` at a time. Each completed request (a
*piece*) is checked against `POST /datasets/checksum` for the same body: the sha-256 and length
of the bytes received, the row count, and the model version (a version swapped in half-way would
mix two models). A checked piece is recorded in `state.json` (after its bytes are on disk), so
a rerun keeps it.

A connection that breaks mid-shard (or a rerun after a crash) resumes the shard: for csv and
ndjson, the whole series already received are kept, back to a whole number of the server's
chunks (`X-Chunk-Series`, recorded in `state.json`: the server kept the digest of every whole
chunk it sent before the break, so the kept part is checked from its cache; without it the
server generates that part again to hash it), checked as a piece of their own, and the rest is
fetched from the next series on. parquet and gzip pieces cannot be cut, so their shard starts
again.

The result: csv and ndjson shards concatenate to the bytes one request would send (a header only
at offset 0); gzip shards concatenate to a valid multi-member gzip file whose content is one
request's; parquet with several shards is a directory of part files (`part-00000.parquet`, …)
that pandas and pyarrow read as one table.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pandas as pd

from rnngan.client.errors import DownloadError, InputError
from rnngan.client.pieces import assemble, whole_series

if TYPE_CHECKING:
    from rnngan.client.http import Client

log = logging.getLogger("rnngan.client")
STATE_FILE = "state.json"
_WRITE_BLOCK = 1 << 20


@dataclass(frozen=True)
class DownloadSummary:
    path: Path
    rows: int
    bytes: int
    shards: int
    version: int
    seconds: float
    resumed_pieces: int  # pieces kept from an earlier, interrupted run or a broken connection

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")


def sample(client: Client, name: str, **body: Any) -> pd.DataFrame:
    """The series of `/datasets` as a frame (parquet on the wire: typed columns), fetched in
    requests of at most the server's row limit."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    request = {k: v for k, v in body.items() if v is not None and v is not False}
    request["format"] = "parquet"
    response = client.request("POST", f"/v1/models/{name}/datasets", json=request)
    table: pa.Table = pq.read_table(io.BytesIO(response.content))
    return table.to_pandas()


# --- download ---


def _ext(fmt: str, compression: str) -> str:
    return fmt + (".gz" if compression == "gzip" else "")


def _splittable(fmt: str, compression: str) -> bool:
    """Pieces can be cut at a series boundary and appended: csv and ndjson, uncompressed."""
    return fmt in ("csv", "ndjson") and compression == "none"


def download(
    client: Client,
    name: str,
    path: Path,
    *,
    n: int,
    length: int | None,
    seed: int,
    format: str,
    shards: int,
    workers: int | None,
    resume: bool,
    progress: bool,
    offset: int = 0,
    compression: str = "none",
    condition: dict[str, Any] | None = None,
    start: str | float | None = None,
    impute: bool = False,
    label: int | None = None,
    prompt: str | None = None,
) -> DownloadSummary:
    """Download series `offset … offset+n-1` into `path` (see the module's docstring)."""
    began = time.perf_counter()
    if n < 1 or shards < 1:
        raise InputError("n and shards must be at least 1")
    if format not in ("csv", "parquet", "ndjson") or compression not in ("none", "gzip"):
        raise InputError("format is csv, parquet or ndjson; compression none or gzip")
    manifest = client.model(name)
    if manifest.task not in ("generate", "image"):
        raise InputError(f"model '{name}' is a {manifest.task} model; it has no data sets")
    body: dict[str, Any] = {"seed": seed, "format": format, "compression": compression}
    optional = {"length": length, "condition": condition, "start": start}
    optional |= {"impute": impute or None, "label": label, "prompt": prompt}
    body |= {k: v for k, v in optional.items() if v is not None}
    shards = min(shards, n)
    bounds = [offset + n * k // shards for k in range(shards + 1)]
    parts = path.parent / f".{path.name}.parts"
    params = {"model": name, "n": n, "offset": offset, "shards": shards, "body": body}
    state = _State.open(parts, params, manifest.version, resume=resume)
    job = _Job(client, name, body, state, parts, _ext(format, compression), bounds)
    if manifest.task == "generate" and manifest.table is None:
        job.rows_per_series = length or manifest.seq_len
    bar = _bar(progress, job)
    try:
        with ThreadPoolExecutor(workers or shards, thread_name_prefix="rnngan-shard") as pool:
            list(pool.map(lambda k: job.fetch_shard(k, bar), range(shards)))
    finally:
        if bar is not None:
            bar.close()
    files = [job.file(k) for k in range(len(bounds) - 1)]
    total_bytes = assemble(files, path, parquet=format == "parquet")
    shutil.rmtree(parts)
    return DownloadSummary(
        path=path,
        rows=job.rows,
        bytes=total_bytes,
        shards=shards,
        version=manifest.version,
        seconds=time.perf_counter() - began,
        resumed_pieces=job.resumed,
    )


def _bar(progress: bool, job: _Job) -> Any:
    if not progress:
        return None
    from tqdm import tqdm

    done = sum(p["bytes"] for s in job.state.shards for p in s["pieces"])
    return tqdm(unit="B", unit_scale=True, unit_divisor=1024, initial=done, desc=job.name)


class _State:
    """state.json: the request, the model version and each shard's checked pieces."""

    def __init__(self, parts: Path, data: dict[str, Any]) -> None:
        self.file = parts / STATE_FILE
        self.data = data
        self._lock = threading.Lock()

    @property
    def shards(self) -> list[dict[str, Any]]:
        shards: list[dict[str, Any]] = self.data["shards"]
        return shards

    @classmethod
    def open(cls, parts: Path, params: dict[str, Any], version: int, *, resume: bool) -> _State:
        file = parts / STATE_FILE
        if parts.exists() and resume and file.exists():
            data = json.loads(file.read_text(encoding="utf-8"))
            if data["params"] != params:
                raise DownloadError(
                    f"{parts} holds parts of another request ({data['params']}); pass "
                    "resume=False to start again"
                )
            if data["version"] != version:
                raise DownloadError(
                    f"the model is now version {version}; the parts in {parts} are version "
                    f"{data['version']}; pass resume=False to start again"
                )
            return cls(parts, data)
        if parts.exists():
            shutil.rmtree(parts)
        parts.mkdir(parents=True)
        shards: list[dict[str, Any]] = [{"pieces": []} for _ in range(params["shards"])]
        state = cls(parts, {"params": params, "version": version, "shards": shards})
        state.save()
        return state

    def set(self, shard: int, key: str, value: Any) -> None:
        with self._lock:
            if self.shards[shard].get(key) != value:
                self.shards[shard][key] = value
                self.save()

    def add(self, shard: int, piece: dict[str, Any]) -> None:
        with self._lock:
            self.shards[shard]["pieces"].append(piece)
            self.save()

    def save(self) -> None:
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1), encoding="utf-8")
        os.replace(tmp, self.file)


class _Job:
    def __init__(
        self,
        client: Client,
        name: str,
        body: dict[str, Any],
        state: _State,
        parts: Path,
        ext: str,
        bounds: list[int],
    ) -> None:
        self.client, self.name, self.body, self.state = client, name, body, state
        self.parts, self.ext, self.bounds = parts, ext, bounds
        self.fmt, self.compression = body["format"], body["compression"]
        self.resumed = 0
        self.rows_per_series: int | None = None  # plain models: every series has `length` rows
        self._lock = threading.Lock()

    @property
    def rows(self) -> int:
        return sum(p["rows"] for s in self.state.shards for p in s["pieces"])

    def file(self, k: int) -> Path:
        return self.parts / f"shard-{k:05d}.{self.ext}"

    def fetch_shard(self, k: int, bar: Any) -> None:
        """Shard k complete and checked on disk, resuming what is there."""
        first, end = self.bounds[k], self.bounds[k + 1]
        file = self.file(k)
        file.touch()
        breaks = 0
        while True:
            pieces = self.state.shards[k]["pieces"]
            done = first + sum(p["n"] for p in pieces)
            kept = sum(p["bytes"] for p in pieces)
            size = file.stat().st_size
            if size < kept:
                raise DownloadError(f"{file} is shorter than its checked pieces; resume=False")
            if size > kept:  # bytes of a request that did not complete
                done = self._salvage(k, file, kept, done, end)
            if done >= end:
                return
            try:
                self._fetch_piece(k, file, done, end - done, bar)
            except (httpx.TransportError, httpx.StreamError) as exc:
                breaks += 1
                if breaks > self.client.retries:
                    raise DownloadError(
                        f"shard {k}: the connection broke {breaks} times ({exc}); rerun to resume"
                    ) from exc
                log.info("shard %d: connection broke (%s); resuming", k, exc)
                time.sleep(self.client._wait(breaks - 1))

    def _fetch_piece(self, k: int, file: Path, first: int, n: int, bar: Any) -> None:
        body = {**self.body, "n": n, "offset": first}
        sha = hashlib.sha256()
        size, newlines = 0, 0
        inflate = zlib.decompressobj(31) if self.compression == "gzip" else None
        with self.client.stream(
            "POST",
            f"/v1/models/{self.name}/datasets",
            json=body,
            headers={"Want-Content-Digest": "sha-256"},
        ) as response:
            version = int(response.headers.get("x-model-version", self.state.data["version"]))
            self._same_version(version)
            # Series per chunk of this request: where the server keeps digests if it breaks.
            chunk = response.headers.get("x-chunk-series")
            self.state.set(k, "chunk_series", int(chunk) if chunk else None)
            with file.open("ab") as sink:
                for data in response.iter_bytes():
                    sink.write(data)
                    sha.update(data)
                    size += len(data)
                    if inflate is not None:
                        newlines += inflate.decompress(data).count(b"\n")
                    elif self.fmt != "parquet":
                        newlines += data.count(b"\n")
                    if bar is not None:
                        bar.update(len(data))
                sink.flush()
                os.fsync(sink.fileno())
        rows = self._rows(file, first, newlines)
        self._check_and_record(k, first, n, sha.hexdigest(), size, rows)

    def _rows(self, file: Path, first: int, newlines: int) -> int:
        if self.fmt == "parquet":
            import pyarrow.parquet as pq

            return int(pq.read_metadata(file).num_rows)
        return newlines - (1 if self.fmt == "csv" and first == 0 else 0)

    def _same_version(self, version: int) -> None:
        if version != self.state.data["version"]:
            raise DownloadError(
                f"model '{self.name}' changed from version {self.state.data['version']} to "
                f"{version} during the download; rerun with resume=False"
            )

    def _check_and_record(
        self, k: int, first: int, n: int, sha256: str, size: int, rows: int
    ) -> None:
        """Compare a piece with the server's checksum of the same body; record it."""
        body = {**self.body, "n": n, "offset": first}
        answer = self.client.request(
            "POST", f"/v1/models/{self.name}/datasets/checksum", json=body
        ).json()
        self._same_version(int(answer["version"]))
        if answer.get("source") == "computed":
            log.info(
                "shard %d: the server generated series %d … %d again to check them",
                k,
                first,
                first + n - 1,
            )
        if (answer["sha256"], answer["bytes"], answer["rows"]) != (sha256, size, rows):
            raise DownloadError(
                f"shard {k}, series {first} … {first + n - 1}: received {size} bytes, {rows} rows, "
                f"sha-256 {sha256[:16]}…; the server says {answer['bytes']} bytes, "
                f"{answer['rows']} rows, {answer['sha256'][:16]}…; rerun with resume=False"
            )
        self.state.add(k, {"offset": first, "n": n, "bytes": size, "rows": rows, "sha256": sha256})

    def _salvage(self, k: int, file: Path, kept: int, first: int, end: int) -> int:
        """Cut the bytes of an unfinished request back to its whole series and check them as a
        piece; the first series still to fetch."""
        with self._lock:
            self.resumed += 1
        complete = 0
        cut = kept
        if _splittable(self.fmt, self.compression):
            found = whole_series(
                file,
                kept,
                first,
                self.fmt,
                rows_per_series=self.rows_per_series,
                multiple=self.state.shards[k].get("chunk_series"),
                total=end - first,
            )
            if found is not None:
                complete, cut = found
        with file.open("r+b") as fh:
            fh.truncate(cut)
        if complete == 0:
            return first
        sha, rows = hashlib.sha256(), 0
        with file.open("rb") as fh:
            fh.seek(kept)
            while block := fh.read(_WRITE_BLOCK):
                sha.update(block)
                rows += block.count(b"\n")
        rows -= 1 if self.fmt == "csv" and first == 0 else 0
        log.info("shard %d: kept %d whole series of an interrupted request", k, complete)
        self._check_and_record(k, first, complete, sha.hexdigest(), cut - kept, rows)
        return first + complete
