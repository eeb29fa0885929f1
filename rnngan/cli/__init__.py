"""`rnngan` command line: `rnngan train | inspect | evaluate | export` (training, torch loaded
lazily) and `rnngan serve | generate` (the serving set). One Typer app; each module registers its
commands on it."""

from __future__ import annotations

from rnngan.cli import serving, training  # noqa: F401 - registers the commands
from rnngan.cli.common import app


def main() -> None:
    app()


__all__ = ["app", "main"]
