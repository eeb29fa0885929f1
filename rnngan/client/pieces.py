"""Where the bytes of an interrupted csv or ndjson request are cut so that what is kept is whole
series: rows are grouped by series in order, and each row starts with its series' id (`123`, or
`synthetic-123` for a table model's string ids). Everything before the first row of the last
series seen is whole; that last one is too when it has all its rows (`rows_per_series`, plain
models). With `multiple` (the server's `X-Chunk-Series`), the cut goes back to a whole number of
the server's chunks, whose digests the server kept when the stream broke: the kept part is then
checked from its cache instead of being generated again.

`assemble` puts the checked shards together as the final file."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

_WINDOW = 1 << 20


def _lines_backward(fh: BinaryIO, start: int, end: int) -> Iterator[tuple[int, bytes]]:
    """(offset, line without its newline) of every line in [start, end), the last first; `end`
    follows a newline. Reads a window at a time."""
    pos, tail = end, b""
    while pos > start:
        lo = max(start, pos - _WINDOW)
        fh.seek(lo)
        buf = fh.read(pos - lo) + tail  # ends with a newline
        pos = lo
        parts = buf[:-1].split(b"\n")
        offsets = [lo]
        for part in parts[:-1]:
            offsets.append(offsets[-1] + len(part) + 1)
        whole_from = 0 if lo == start else 1  # parts[0] may begin before the window
        for i in range(len(parts) - 1, whole_from - 1, -1):
            yield offsets[i], parts[i]
        tail = parts[0] + b"\n"


def _complete_end(fh: BinaryIO, start: int, size: int) -> int:
    """The end of the last complete line in [start, size), or `start` when there is none."""
    pos = size
    while pos > start:
        lo = max(start, pos - _WINDOW)
        fh.seek(lo)
        found = fh.read(pos - lo).rfind(b"\n")
        if found >= 0:
            return lo + found + 1
        pos = lo
    return start


def whole_series(
    file: Path,
    start: int,
    first: int,
    fmt: str,
    *,
    rows_per_series: int | None = None,
    multiple: int | None = None,
    total: int | None = None,
) -> tuple[int, int] | None:
    """(whole series, end byte) of file[start:], written by a request from series `first` on
    (the header included when it has one); None when the rows cannot be read. All `total`
    series of the request whole are kept as they are (its complete digest is the cached one)."""
    with file.open("rb") as fh:
        end = _complete_end(fh, start, file.stat().st_size)
        if end == start:
            return 0, start
        lines = _lines_backward(fh, start, end)
        offset, line = next(lines)
        last = series_index(line, fmt)
        if last is None:  # a header alone, or not our rows
            return (0, start) if offset == start else None
        rows, cut = 1, offset
        before: tuple[int, bytes] | None = None
        for offset, line in lines:
            if series_index(line, fmt) != last:
                before = offset, line
                break
            rows, cut = rows + 1, offset
        whole = last - first
        if rows_per_series is not None and rows == rows_per_series:
            whole, cut = whole + 1, end  # the last series is complete too
        if whole <= 0:
            return 0, start
        if not multiple or whole % multiple == 0 or whole == total:
            return whole, cut
        whole -= whole % multiple
        if whole == 0:
            return 0, start
        # Walk back to the end of series first + whole - 1.
        pending = [before] if before is not None else []
        for offset, line in _chain(pending, lines):
            index = series_index(line, fmt)
            if index is None or index < first + whole:
                return whole, offset + len(line) + 1
        return 0, start


def _chain(
    head: list[tuple[int, bytes]], rest: Iterator[tuple[int, bytes]]
) -> Iterator[tuple[int, bytes]]:
    yield from head
    yield from rest


def series_index(line: bytes, fmt: str) -> int | None:
    """The series number of a row: its first field (`123`, or `synthetic-123`)."""
    try:
        if fmt == "csv":
            field = line.split(b",", 1)[0]
        else:
            field = line.split(b":", 1)[1].split(b",", 1)[0]
        text = field.strip().strip(b'"').decode()
        return int(text.rsplit("-", 1)[-1])
    except (IndexError, ValueError, UnicodeDecodeError):
        return None


def assemble(files: list[Path], path: Path, *, parquet: bool) -> int:
    """The shard files, in order, as `path`: one file, or a directory of parts for parquet in
    several shards (parquet files do not concatenate); the bytes in all."""
    shards = len(files)
    if parquet and shards > 1:
        tmp = path.parent / f".{path.name}.assembling"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        total = 0
        for k in range(shards):
            total += files[k].stat().st_size
            os.replace(files[k], tmp / f"part-{k:05d}.parquet")
        _replace(tmp, path)
        return total
    tmp = path.parent / f".{path.name}.assembling"
    with tmp.open("wb", buffering=0) as sink:
        for k in range(shards):
            _append(files[k], sink)
        os.fsync(sink.fileno())
    _replace(tmp, path)
    return path.stat().st_size


def _append(src: Path, sink: BinaryIO) -> None:
    """Copy `src` to the end of `sink` (unbuffered), in the kernel where it can."""
    with src.open("rb") as source:
        size, done = os.fstat(source.fileno()).st_size, 0
        try:
            while done < size:
                copied = os.copy_file_range(source.fileno(), sink.fileno(), size - done, done)
                if copied == 0:
                    break
                done += copied
        except OSError:  # another file system, an old kernel: copy through user space
            pass
        source.seek(done)
        shutil.copyfileobj(source, sink, _WINDOW * 8)


def _replace(src: Path, dest: Path) -> None:
    if dest.is_dir():
        shutil.rmtree(dest)
    os.replace(src, dest)
