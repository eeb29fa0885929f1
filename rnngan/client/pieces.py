"""Where the bytes of an interrupted csv or ndjson request are cut so that what is kept is whole
series: rows are grouped by series in order, and each row starts with its series' id (`123`, or
`synthetic-123` for a table model's string ids), so everything before the first row of the last
series seen is whole (that last one may be incomplete and is fetched again)."""

from __future__ import annotations

from pathlib import Path


def whole_series(file: Path, start: int, first: int, fmt: str) -> tuple[int, int] | None:
    """(whole series, end byte) of file[start:], written by a request from series `first` on:
    everything before the first row of the last series seen (which may be incomplete), the
    header included. Reads backwards from the end, a window at a time. None when unreadable."""
    size = file.stat().st_size
    window = 1 << 20
    with file.open("rb") as fh:
        while True:
            lo = max(start, size - window)
            fh.seek(lo)
            data = fh.read(size - lo)
            complete = data.rfind(b"\n") + 1
            if complete == 0:
                if lo == start:
                    return 0, start
                window *= 4
                continue
            lines = data[:complete].split(b"\n")[:-1]
            last_id = series_index(lines[-1], fmt)
            if last_id is None or last_id - first <= 0:
                return None if last_id is None and len(lines) > 1 else (0, start)
            end = lo + complete  # end of line i, walking back
            for i in range(len(lines) - 1, -1, -1):
                if i == 0 and lo > start:
                    break  # the first line of the window may be cut: read further back
                if series_index(lines[i], fmt) != last_id:
                    return last_id - first, end
                end -= len(lines[i]) + 1
            if lo == start:
                return 0, start
            window *= 4


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
