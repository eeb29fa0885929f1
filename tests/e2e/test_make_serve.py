"""`make serve` (the README's command) honours the documented settings, from the environment
and from `.env`: the command it runs, run as it is."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import httpx

from tests.conftest import MODELS, REPO
from tests.helpers.server import start_server


def _serve_command() -> list[str]:
    """The last line `make serve` would run (the install steps before it are skipped)."""
    dry = subprocess.run(
        ["make", "-s", "-n", "serve"], cwd=REPO, capture_output=True, text=True, check=True
    )
    command = shlex.split(dry.stdout.strip().splitlines()[-1])
    assert command[1] == "serve", command
    command[0] = str((REPO / command[0]).resolve())
    return command


def _only_sines(tmp_path: Path) -> Path:
    models = tmp_path / "only-sines"
    shutil.copytree(MODELS / "sines", models / "sines")
    return models


def _served(base: str) -> list[str]:
    return sorted(m["name"] for m in httpx.get(f"{base}/readyz").json()["models"])


def test_make_serve_reads_models_dir_from_the_environment(tmp_path: Path) -> None:
    command = _serve_command()
    assert "--models-dir" not in command  # the setting decides, not the Makefile
    models = _only_sines(tmp_path)
    with start_server(command=command, env={"RNNGAN_MODELS_DIR": str(models)}) as served:
        assert _served(served.base) == ["sines"]


def test_make_serve_reads_models_dir_from_dot_env(tmp_path: Path) -> None:
    models = _only_sines(tmp_path)
    (tmp_path / ".env").write_text(f"RNNGAN_MODELS_DIR={models}\n")
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("RNNGAN_")}
    with start_server(command=_serve_command(), cwd=tmp_path, base_env=base_env) as served:
        assert _served(served.base) == ["sines"]
