"""Start `rnngan serve` as a real process on a free loopback port, for the end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from tests.conftest import REPO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    base: str
    port: int
    log: IO[bytes]  # a file, not a pipe: a pipe nobody reads fills up and stalls the server

    def log_text(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")


def start_server(models_dir: Path, **env: str) -> Served:
    """`python -m rnngan.cli serve` on a free port, returned once /readyz answers 200."""
    port = free_port()
    environ = {
        **os.environ,
        "RNNGAN_MODELS_DIR": str(models_dir),
        "RNNGAN_RELOAD_INTERVAL_S": "0",
        "OMP_WAIT_POLICY": "PASSIVE",
        **env,
    }
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rnngan.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO,
        env=environ,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    served = Served(proc=proc, base=f"http://127.0.0.1:{port}", port=port, log=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{served.base}/readyz", timeout=1).status_code == 200:
                return served
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"server exited {proc.returncode}: {served.log_text()}")
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not become ready in 60 s")
