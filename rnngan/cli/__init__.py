"""`rnngan` command line: `rnngan train | inspect | evaluate | export` (training, torch loaded
lazily), `rnngan serve | generate` (the serving set) and `rnngan forecast | download` (a client
of a running server, rnngan.client). One Typer app; each module registers its commands on it."""

from __future__ import annotations

from rnngan.cli import client, serving, training  # noqa: F401 - registers the commands
from rnngan.cli.common import app


def main() -> None:
    app()


__all__ = ["app", "main"]
