"""The one live-server harness, for the end-to-end tests, the deployment check and the
benchmarks: start a server process on a free loopback port, wait until it answers, stop it with
SIGTERM, and keep its log.

    with start_server(MODELS) as server:        # `rnngan serve`, ready once /readyz is 200
        httpx.get(f"{server.base}/v1/models")
    assert server.returncode == 0

`command` picks another program (uvicorn, the baseline torch server, an installed `rnngan`);
`--host 127.0.0.1 --port <free port>` is appended to it. Benchmarks import this from the
repository root (`python -m benchmarks.…`), so it needs nothing but httpx.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

REPO = Path(__file__).resolve().parents[2]
SERVE = (sys.executable, "-m", "rnngan.cli", "serve")


def uvicorn(app: str, *options: str, factory: bool = True) -> tuple[str, ...]:
    """The command line of `uvicorn <app>` (one worker), for `start_server(command=...)`."""
    return (sys.executable, "-m", "uvicorn", app, *(["--factory"] if factory else []), *options)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    base: str
    port: int
    log: IO[bytes]  # a file, not a pipe: a pipe nobody reads fills up and stalls the server

    @property
    def returncode(self) -> int | None:
        return self.proc.poll()

    def log_text(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self, timeout_s: float = 30) -> int:
        """SIGTERM (the server drains what is in flight), then the exit code; killed if it has
        not exited after `timeout_s`."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def close(self) -> int:
        """`stop`, then close the log; the exit code."""
        code = self.stop()
        self.log.close()
        return code

    def __enter__(self) -> Server:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def start_server(
    models_dir: Path | None = None,
    *,
    command: Sequence[str] = SERVE,
    env: Mapping[str, str] | None = None,
    base_env: Mapping[str, str] | None = None,
    cwd: Path = REPO,
    ready_path: str = "/readyz",
    log_path: Path | None = None,
    timeout_s: float = 60,
    reload_interval_s: float | None = 0,
) -> Server:
    """Start `command` on a free loopback port; return once `ready_path` answers 200.

    The environment is `base_env` (default: this process's), `OMP_WAIT_POLICY=PASSIVE` unless
    set there, `RNNGAN_MODELS_DIR=models_dir`, `RNNGAN_RELOAD_INTERVAL_S` (default 0, the
    poller off; None leaves it to the environment), then `env`.
    The log goes to `log_path`, or to an anonymous temporary file. Raises RuntimeError, with the
    log's tail, when the process exits or is not ready within `timeout_s`."""
    port = free_port()
    environ = dict(os.environ if base_env is None else base_env)
    environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if models_dir is not None:
        environ["RNNGAN_MODELS_DIR"] = str(models_dir)
    if reload_interval_s is not None:
        environ["RNNGAN_RELOAD_INTERVAL_S"] = f"{reload_interval_s:g}"
    environ.update(env or {})
    log = log_path.open("w+b") if log_path is not None else tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        cwd=cwd,
        env=environ,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = Server(proc=proc, base=f"http://127.0.0.1:{port}", port=port, log=log)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{server.base}{ready_path}", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    if proc.poll() is None:
        proc.kill()
        proc.wait()
        why = f"not ready after {timeout_s:g} s"
    else:
        why = f"exited {proc.returncode}"
    tail = server.log_text()[-3000:]
    log.close()
    raise RuntimeError(f"server {why}: {tail}")
