"""Progress of `rnngan evaluate`: one bar per stage, with its total, so a person sees how far it
is and how long is left (the post-hoc classifiers alone run for minutes on the full protocol).

`showing(True)` (the CLI) turns the bars on; library calls and tests stay quiet. A stage's
total is counted in the unit its loop advances by: classifier training steps for the series
scores (`training/evaluate/metrics.py` advances the innermost open stage each step), classifier
runs for the image scores. Bars go to stderr and redraw every 0.1 s on a terminal, every 30 s
into a log.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from tqdm import tqdm

_enabled = False
_open: list[tqdm] = []


@contextmanager
def showing(enabled: bool) -> Iterator[None]:
    global _enabled
    before, _enabled = _enabled, enabled
    try:
        yield
    finally:
        _enabled = before


@contextmanager
def stage(desc: str, total: int, unit: str = "steps") -> Iterator[tqdm]:
    """A bar of `total` units for the work inside; `advance` moves the innermost one."""
    bar = tqdm(
        total=total,
        desc=desc,
        unit=unit,
        disable=not _enabled,
        file=sys.stderr,
        mininterval=0.1 if sys.stderr.isatty() else 30.0,
        dynamic_ncols=True,
    )
    _open.append(bar)
    try:
        yield bar
    finally:
        _open.remove(bar)
        bar.close()


def advance(n: int = 1) -> None:
    if _open:
        _open[-1].update(n)
