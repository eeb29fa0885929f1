"""What the commands share: the Typer app, logging, clear failures (exit 2) and option parsers."""

from __future__ import annotations

import logging
import os
from typing import Any

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="`rnngan` command line. Training commands import torch lazily, so the serving install "
    "(no torch) can still run `rnngan serve` and `rnngan generate`.",
)


def _print_version(value: bool) -> None:
    if value:
        from rnngan import __version__

        typer.echo(f"rnngan {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the installed rnngan version and exit.",
    ),
) -> None:
    """Options that come before the command (`rnngan --version`)."""


# Explicit thread policy for 2-core hosts (see README): idle OpenMP threads must not spin.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


def duration(text: str) -> float:
    """'30m', '1h', '90s', '1h30m' or plain seconds -> seconds; exits 2 when unreadable."""
    import re

    parts = re.fullmatch(
        r"\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*"
        r"(?:(\d+(?:\.\d+)?)s?)?\s*",
        text,
    )
    if not text.strip() or parts is None or not any(parts.groups()):
        fail(f"--budget {text!r}: expected a duration such as 30m, 1h, 90s or 1h30m")
    assert parts is not None
    hours, minutes, seconds = (float(g) if g else 0.0 for g in parts.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        fail(f"--budget {text!r}: the budget must be longer than zero")
    return total


def conditions(items: list[str] | None) -> dict[str, Any] | None:
    """--condition region=north --condition size=2 -> {"region": "north", "size": 2}."""
    import json

    if not items:
        return None
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"--condition {item!r}: expected column=value")
        try:
            out[key] = json.loads(value)  # numbers and true/false
        except ValueError:
            out[key] = value  # a category label
    return out
