"""The output directory of a bulk job, and the run that fills it with any engine.

    DIR/part-00000.parquet …    the parts (renamed into place only once complete)
    DIR/_PROGRESS.jsonl         while the job runs: the job, then one record per finished part
    DIR/_SUCCESS                written last: the job, every part's record, total rows

A rerun reads the records of `_SUCCESS` and `_PROGRESS.jsonl`, keeps each part whose file has
the recorded size and sha256 (said in the log), regenerates the others, and writes `_SUCCESS`
again. `_SUCCESS` is removed before anything is regenerated, so a directory that has one is
complete. A directory holds one job: a different model version, seed, range or format is
refused. Readers (pyarrow, Spark, Ray Data) skip names starting with `_` or `.`.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rnngan.scale.parts import (
    TEMP_MARK,
    Job,
    JobError,
    Part,
    file_sha256,
    load_exact,
    write_part,
)
from service.config import Settings

SUCCESS = "_SUCCESS"
PROGRESS = "_PROGRESS.jsonl"
log = logging.getLogger("rnngan.scale")


class Engine(Protocol):
    """Writes parts into a directory and yields each one's record as it finishes."""

    def write(self, job: Job, parts: list[Part], out_dir: Path) -> Iterator[dict[str, Any]]: ...


@dataclass
class LocalEngine:
    """One process, parts one after the other (each part overlaps generation and encoding in
    two threads, as `rnngan generate` does)."""

    settings: Settings

    def write(self, job: Job, parts: list[Part], out_dir: Path) -> Iterator[dict[str, Any]]:
        if not parts:
            return
        loaded = load_exact(self.settings, job)
        for part in parts:
            yield write_part(loaded, self.settings, job, part, out_dir)


@dataclass
class Summary:
    out_dir: Path
    parts: int
    written: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    rows: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        return (
            f"{self.out_dir}: {self.parts} parts, {self.rows} rows; wrote {len(self.written)}, "
            f"kept {len(self.kept)} already complete (checksums match) in {self.seconds:.1f} s; "
            f"{SUCCESS} written"
        )


def prepare(out_dir: Path) -> None:
    """Create `out_dir` and prove it writable, or raise JobError saying what to do."""
    if out_dir.exists() and not out_dir.is_dir():
        raise JobError(f"--out {out_dir} is a file; with parts it must be a directory")
    probe = out_dir / f".write-probe{TEMP_MARK}{os.getpid()}"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise JobError(
            f"cannot write to --out {out_dir}: {exc.strerror or exc}; choose a directory you "
            "can write to"
        ) from None


def _read_records(out_dir: Path, job: Job) -> dict[str, dict[str, Any]]:
    """Recorded parts of this job by file name (from _SUCCESS and _PROGRESS.jsonl)."""
    records: dict[str, dict[str, Any]] = {}
    identity = job.identity()
    success = out_dir / SUCCESS
    if success.is_file():
        try:
            done = json.loads(success.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            done = None  # unreadable: treat every part as unchecked
        if isinstance(done, dict):
            _same_job(out_dir, SUCCESS, done.get("job"), identity)
            records.update({r["file"]: r for r in done.get("parts", [])})
    progress = out_dir / PROGRESS
    if progress.is_file():
        lines = progress.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line torn by a crash: its part is checked the long way
            if number == 0:
                _same_job(out_dir, PROGRESS, entry.get("job"), identity)
            elif isinstance(entry, dict) and "file" in entry:
                records[entry["file"]] = entry
    return records


def _same_job(out_dir: Path, source: str, recorded: Any, identity: dict[str, Any]) -> None:
    if recorded == identity:
        return
    if not isinstance(recorded, dict):
        raise JobError(f"{out_dir / source} is not a record of this job; use an empty directory")
    differs = sorted(k for k in identity if recorded.get(k) != identity[k])
    shown = ", ".join(f"{k} {recorded.get(k)!r} → {identity[k]!r}" for k in differs[:3])
    raise JobError(
        f"--out {out_dir} holds parts of another job ({shown}); use an empty directory, or "
        "delete that one first"
    )


def check_parts(
    out_dir: Path, job: Job, parts: list[Part]
) -> tuple[list[dict[str, Any]], list[tuple[Part, str]]]:
    """(records of the parts to keep, (part, why) for each part to write)."""
    records = _read_records(out_dir, job)
    keep: list[dict[str, Any]] = []
    todo: list[tuple[Part, str]] = []
    for part in parts:
        path, record = out_dir / part.file, records.get(part.file)
        if not path.is_file():
            todo.append((part, "missing"))
        elif record is None or (record.get("start"), record.get("n")) != (part.start, part.n):
            todo.append((part, "not recorded as finished"))
        elif path.stat().st_size != record.get("bytes") or file_sha256(path) != record["sha256"]:
            todo.append((part, "checksum mismatch"))
        else:
            keep.append(record)
    return keep, todo


def _clear_temps(out_dir: Path) -> None:
    """Temporary files of an earlier, interrupted run (one job writes a directory at a time)."""
    for path in out_dir.iterdir():
        if path.name.startswith(".") and TEMP_MARK in path.name:
            path.unlink(missing_ok=True)


def _write_json(path: Path, data: Any) -> None:
    temp = path.with_name(f".{path.name}{TEMP_MARK}{os.getpid()}")
    temp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(temp, path)


def success_record(job: Job, records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    parts = sorted(records, key=lambda r: r["index"])
    return {
        "job": job.identity(),
        "model": job.model,
        "version": job.version,
        "seed": job.seed,
        "format": job.format,
        "compression": job.compression,
        "series": job.n,
        "rows": sum(r["rows"] for r in parts),
        "bytes": sum(r["bytes"] for r in parts),
        "parts": parts,
    }


def run_job(
    job: Job,
    out_dir: Path,
    engine: Engine,
    *,
    on_part: Callable[[dict[str, Any]], object] = lambda record: None,
) -> Summary:
    """Write every part of `job` that is not already complete in `out_dir`, then `_SUCCESS`."""
    began = time.perf_counter()
    prepare(out_dir)
    _clear_temps(out_dir)
    parts = job.parts()
    keep, todo = check_parts(out_dir, job, parts)
    summary = Summary(out_dir=out_dir, parts=len(parts), kept=[r["file"] for r in keep])
    if keep:
        log.info(
            "%d of %d parts already complete (file present, checksum matches): skipped",
            len(keep),
            len(parts),
        )
    if todo and not keep and all(why == "missing" for _, why in todo):
        log.info("writing %d parts of about %d rows into %s", len(todo), job.rows_per_file, out_dir)
    else:
        for part, why in todo:
            last = part.start + part.n - 1
            log.info("writing %s (series %d…%d): %s", part.file, part.start, last, why)
    success, progress = out_dir / SUCCESS, out_dir / PROGRESS
    if todo or not success.is_file():
        success.unlink(missing_ok=True)  # from here until the end the directory is incomplete
        with progress.open("w", encoding="utf-8") as journal:
            for line in [{"job": job.identity()}, *keep]:
                journal.write(json.dumps(line) + "\n")
            journal.flush()
            for record in engine.write(job, [p for p, _ in todo], out_dir):
                journal.write(json.dumps(record) + "\n")
                journal.flush()
                keep.append(record)
                summary.written.append(record["file"])
                on_part(record)
        if len(keep) != len(parts):  # an engine that stopped early must not look complete
            raise JobError(f"only {len(keep)} of {len(parts)} parts were written; rerun the job")
        _write_json(success, success_record(job, keep))
        progress.unlink(missing_ok=True)
    summary.rows = sum(r["rows"] for r in keep)
    summary.seconds = time.perf_counter() - began
    return summary
