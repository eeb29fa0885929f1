"""Graceful shutdown of `rnngan serve`: on SIGTERM it stops accepting connections, lets a
streaming download in flight finish, and exits 0."""

from __future__ import annotations

import signal
import socket
import threading
import time

import httpx
import pytest

from tests.conftest import MODELS
from tests.helpers.server import SERVE, start_server


def test_shutdown_sigterm_drains_stream_refuses_new_and_exits_0() -> None:
    n, length = 20_000, 24  # ~28 MB of csv: far more than the loopback socket buffers hold
    with start_server(MODELS) as served:
        with httpx.stream(
            "POST",
            f"{served.base}/v1/models/sines/datasets",
            json={"n": n, "length": length, "seed": 1, "format": "csv"},
            timeout=60,
        ) as r:
            assert r.status_code == 200
            chunks = r.iter_bytes()
            received = [next(chunks)]
            served.proc.send_signal(signal.SIGTERM)
            time.sleep(1.5)  # the server stops listening while this stream is still open
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", served.port), timeout=5).close()
            assert served.proc.poll() is None  # still draining: the download is not done
            received.extend(chunks)
        body = b"".join(received)
        assert body.count(b"\n") == 1 + n * length
        assert body.splitlines()[-1].startswith(f"{n - 1},{length - 1},".encode())
        assert served.proc.wait(timeout=60) == 0
        log = served.log_text()
        assert "Shutting down" in log and "Finished server process" in log


def test_shutdown_idle_server_exits_0_quickly() -> None:
    with start_server(MODELS) as served:
        started = time.monotonic()
        served.proc.send_signal(signal.SIGTERM)
        assert served.proc.wait(timeout=30) == 0
        assert time.monotonic() - started < 5


def test_shutdown_timeout_cuts_a_stalled_stream() -> None:
    with start_server(MODELS, env={"RNNGAN_SHUTDOWN_TIMEOUT_S": "1"}) as served:
        with httpx.stream(
            "POST",
            f"{served.base}/v1/models/sines/datasets",
            json={"n": 20_000, "length": 24, "seed": 1, "format": "csv"},
            timeout=60,
        ) as r:
            chunks = r.iter_bytes()
            next(chunks)
            started = time.monotonic()
            served.proc.send_signal(signal.SIGTERM)
            assert served.proc.wait(timeout=30) == 0  # the client reads nothing meanwhile
            assert time.monotonic() - started < 10
            with pytest.raises(httpx.RemoteProtocolError):
                for _ in chunks:
                    pass
        assert "timeout graceful shutdown exceeded" in served.log_text()


@pytest.mark.parametrize(("fmt", "compression"), [("csv", "gzip"), ("parquet", "none")])
def test_shutdown_grace_end_closes_streams_without_tracebacks(fmt: str, compression: str) -> None:
    body = {"n": 2_000_000, "length": 24, "seed": 1, "format": fmt, "compression": compression}
    with start_server(MODELS, env={"RNNGAN_SHUTDOWN_TIMEOUT_S": "1"}) as served:

        def download() -> None:
            url = f"{served.base}/v1/models/sines/datasets"
            with pytest.raises(httpx.HTTPError):  # cut: never a complete-looking file
                with httpx.stream("POST", url, json=body, timeout=60) as r:
                    for _ in r.iter_raw():
                        pass

        clients = [threading.Thread(target=download) for _ in range(3)]
        for t in clients:
            t.start()
        time.sleep(1.0)  # mid-download, chunks being made in worker threads
        served.proc.send_signal(signal.SIGTERM)
        assert served.proc.wait(timeout=30) == 0
        for t in clients:
            t.join(30)
        log = served.log_text()
    assert "generator already executing" not in log
    assert "Traceback" not in log and "exc_info" not in log
    assert log.count("cut short: the server stopped") == 3
    assert "Exception ignored" not in log  # no generator left to be finalised at exit


def _answered(sock: socket.socket) -> bytes:
    """What came back on a raw connection: the response's first bytes, or the error."""
    try:
        return sock.recv(4096)
    except OSError as exc:
        return repr(exc).encode()
    finally:
        sock.close()


def test_shutdown_answers_requests_sent_before_sigterm() -> None:
    # A busy machine, played by SIGSTOP: requests reach the kernel (connections accepted into the
    # listen backlog, request bytes sent) while the server is not running, then SIGTERM comes
    # before the server has taken them in. uvicorn alone reset every such connection.
    with start_server(MODELS) as served:
        served.proc.send_signal(signal.SIGSTOP)
        try:
            socks = []
            for _ in range(3):
                sock = socket.create_connection(("127.0.0.1", served.port), timeout=30)
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
                socks.append(sock)
            served.proc.send_signal(signal.SIGTERM)
            time.sleep(0.2)
        finally:
            served.proc.send_signal(signal.SIGCONT)
        answers = [_answered(sock) for sock in socks]
        assert all(a.startswith(b"HTTP/1.1 200") for a in answers), answers
        assert served.proc.wait(timeout=30) == 0
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", served.port), timeout=5).close()


def test_serve_with_workers_answers_and_exits_0_on_sigterm() -> None:
    # --workers N (the Docker image's RNNGAN_WORKERS) runs uvicorn's process manager, whose
    # workers run uvicorn's own server (not DrainingServer): they serve and drain on SIGTERM.
    command = (*SERVE, "--workers", "2")
    with start_server(MODELS, command=command, timeout_s=120) as served:
        for _ in range(4):
            assert httpx.get(f"{served.base}/v1/models", timeout=30).status_code == 200
        served.proc.send_signal(signal.SIGTERM)
        assert served.proc.wait(timeout=60) == 0
        assert "Finished server process" in served.log_text()
