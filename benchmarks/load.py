"""Load test: concurrent clients against a real `rnngan serve` process on loopback, with a new
model version swapped in half-way and a SIGTERM at the end.

    make bench-load                                  # 60 s, results in benchmarks/results/load.json
    python -m benchmarks.load --duration 8 --out /tmp/load.json     # a short run (the CI test)

The server serves a temporary COPY of the model repository, so the swap never touches models/.
Clients (asyncio + httpx, one process) mix forecast, samples and small csv dataset requests.
Half-way, the generate model's served version is copied to the next number under
`.staging/`, its manifest's version fixed, and the directory renamed into place; the server's
reload poller picks it up. At the end the clients stop starting requests, SIGTERM goes to the
server while the last ones are in flight, and every one of them must still complete.

A request fails when it raises (connect, timeout, protocol), answers other than 200, or (for a
data set) has the wrong number of rows. The target is zero failures and zero 5xx.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from benchmarks.common import code_version
from tests.helpers.server import start_server

REPO = Path(__file__).resolve().parents[1]
ROUTES = ("forecast", "samples", "datasets")
WEIGHTS = (0.4, 0.4, 0.2)
DATASET_N, DATASET_LENGTH = 100, 24


@dataclass
class Outcome:
    route: str
    started: float  # seconds since the run began
    latency_s: float
    status: int | None
    error: str | None = None
    version: int | None = None


@dataclass
class Run:
    outcomes: list[Outcome] = field(default_factory=list)
    in_flight: int = 0
    stop: bool = False


def _served_version(models_dir: Path, name: str) -> int:
    return max((int(p.name) for p in (models_dir / name).iterdir() if p.name.isdigit()), default=0)


def _manifest(models_dir: Path, name: str) -> dict[str, Any]:
    version = _served_version(models_dir, name)
    return dict(json.loads((models_dir / name / str(version) / "manifest.json").read_text()))


def swap_in_new_version(models_dir: Path, name: str) -> int:
    """Copy the served version to the next number, written under .staging/ and renamed into
    place in one step (as a deploy does). Returns the new version."""
    current = _served_version(models_dir, name)
    staging = models_dir / ".staging" / name / str(current + 1)
    shutil.copytree(models_dir / name / str(current), staging)
    manifest_path = staging / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["version"] = current + 1
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    os.rename(staging, models_dir / name / str(current + 1))
    return current + 1


def _request(
    route: str, generator: str, forecaster: str, context_len: int, rng: random.Random
) -> tuple[str, dict[str, Any]]:
    seed = rng.randrange(2**31)
    if route == "forecast":
        level = rng.uniform(5, 50)
        history = [level + 5 * float(np.sin(i / 24 * 2 * np.pi)) for i in range(context_len)]
        body: dict[str, Any] = {
            "series": [{"id": "s", "values": history}],
            "num_samples": 100,
            "seed": seed,
        }
        return f"/v1/models/{forecaster}/forecast", body
    if route == "samples":
        return f"/v1/models/{generator}/samples", {"n": 16, "length": 24, "seed": seed}
    body = {"n": DATASET_N, "length": DATASET_LENGTH, "seed": seed, "format": "csv"}
    return f"/v1/models/{generator}/datasets", body


async def _client(
    index: int,
    client: httpx.AsyncClient,
    run: Run,
    t0: float,
    names: tuple[str, str, int],
) -> None:
    generator, forecaster, context_len = names
    rng = random.Random(index)
    while not run.stop:
        route = rng.choices(ROUTES, WEIGHTS)[0]
        path, body = _request(route, generator, forecaster, context_len, rng)
        started = time.perf_counter()
        outcome = Outcome(route=route, started=started - t0, latency_s=0.0, status=None)
        run.in_flight += 1
        try:
            if route == "datasets":
                async with client.stream("POST", path, json=body) as r:
                    outcome.status = r.status_code
                    data = b"".join([chunk async for chunk in r.aiter_bytes()])
                rows = data.count(b"\n") - 1
                if r.status_code == 200 and rows != DATASET_N * DATASET_LENGTH:
                    outcome.error = f"{rows} rows, expected {DATASET_N * DATASET_LENGTH}"
            else:
                r = await client.post(path, json=body)
                outcome.status = r.status_code
                if r.status_code == 200:
                    outcome.version = int(r.json()["version"])
            if outcome.status != 200 and outcome.error is None:
                outcome.error = f"status {outcome.status}: {r.text[:200]}"
        except httpx.HTTPError as exc:
            outcome.error = f"{type(exc).__name__}: {exc}"
        finally:
            run.in_flight -= 1
            outcome.latency_s = time.perf_counter() - started
            run.outcomes.append(outcome)


def _summary(run: Run, t_swap: float, new_version: int, old_version: int) -> dict[str, Any]:
    per_route: dict[str, Any] = {}
    for route in ROUTES:
        rows = [o for o in run.outcomes if o.route == route]
        lat = np.array([o.latency_s for o in rows]) * 1000
        statuses: dict[str, int] = {}
        for o in rows:
            key = str(o.status) if o.status is not None else "no response"
            statuses[key] = statuses.get(key, 0) + 1
        per_route[route] = {
            "requests": len(rows),
            "p50_ms": round(float(np.percentile(lat, 50)), 1) if len(rows) else None,
            "p99_ms": round(float(np.percentile(lat, 99)), 1) if len(rows) else None,
            "max_ms": round(float(lat.max()), 1) if len(rows) else None,
            "statuses": statuses,
            "failures": sum(o.error is not None for o in rows),
        }
    versioned = [o for o in run.outcomes if o.route == "samples" and o.version is not None]
    new = [o.started for o in versioned if o.version == new_version]
    # Once one response has come back from the new version, a request sent after it must
    # never see the old one again (the table swap is one step, no flip-flopping).
    first_new_done = min(
        (o.started + o.latency_s for o in versioned if o.version == new_version), default=None
    )
    old_after = [
        o
        for o in versioned
        if o.version == old_version and first_new_done is not None and o.started > first_new_done
    ]
    return {
        "per_route": per_route,
        "swap": {
            "at_s": round(t_swap, 2),
            "first_new_version_response_s": round(min(new), 2) if new else None,
            "picked_up_after_s": round(min(new) - t_swap, 2) if new else None,
            "samples_by_version": {
                str(old_version): sum(o.version == old_version for o in versioned),
                str(new_version): sum(o.version == new_version for o in versioned),
            },
            "old_version_after_first_new_response": len(old_after),
        },
    }


async def _drive(
    base: str, proc: Any, models_dir: Path, duration_s: float, concurrency: int
) -> dict[str, Any]:
    generator = "sines"
    forecaster = "etth1_ot"
    context_len = int(_manifest(models_dir, forecaster)["context_len"])
    old_version = _served_version(models_dir, generator)
    run = Run()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        t0 = time.perf_counter()
        tasks = [
            asyncio.create_task(_client(i, client, run, t0, (generator, forecaster, context_len)))
            for i in range(concurrency)
        ]
        await asyncio.sleep(duration_s / 2)
        t_swap = time.perf_counter() - t0
        new_version = swap_in_new_version(models_dir, generator)
        await asyncio.sleep(duration_s / 2)
        # Stop starting requests; SIGTERM while the last ones are still in flight.
        run.stop = True
        in_flight = run.in_flight
        t_term = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        await asyncio.gather(*tasks)
        drained_s = time.perf_counter() - t_term
        elapsed = time.perf_counter() - t0
    exit_code = await asyncio.to_thread(proc.wait, 60)
    refused_after = None
    try:  # after the shutdown, new connections must be refused
        socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])), timeout=2).close()
        refused_after = False
    except ConnectionRefusedError:
        refused_after = True
    failures = [o for o in run.outcomes if o.error is not None]
    result = {
        "duration_s": round(elapsed, 1),
        "requests": len(run.outcomes),
        "throughput_rps": round(len(run.outcomes) / elapsed, 1),
        "failures": len(failures),
        "status_5xx": sum(1 for o in run.outcomes if o.status is not None and o.status >= 500),
        "failure_examples": sorted({o.error for o in failures if o.error})[:10],
        **_summary(run, t_swap, new_version, old_version),
        "shutdown": {
            "in_flight_at_sigterm": in_flight,
            "all_in_flight_completed": not any(
                o.error for o in run.outcomes if o.started + o.latency_s >= t_term - t0
            ),
            "drained_in_s": round(drained_s, 2),
            "exit_code": exit_code,
            "new_connections_refused_after": refused_after,
        },
    }
    return result


def environment(concurrency: int, reload_interval_s: float) -> dict[str, Any]:
    import onnxruntime as ort

    load = os.getloadavg()
    cpus = os.cpu_count() or 1
    info: dict[str, Any] = {
        "machine": platform.machine(),
        "cpu_count": cpus,
        "python": platform.python_version(),
        "onnxruntime": ort.__version__,
        "loadavg_1m_at_start": round(load[0], 2),
        "threads": {
            "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE (set for the server)"),
            "RNNGAN_ORT_INTRA_OP_THREADS": os.environ.get("RNNGAN_ORT_INTRA_OP_THREADS", "1"),
            "RNNGAN_ORT_INTER_OP_THREADS": os.environ.get("RNNGAN_ORT_INTER_OP_THREADS", "1"),
            "RNNGAN_ORT_ALLOW_SPINNING": os.environ.get("RNNGAN_ORT_ALLOW_SPINNING", "false"),
            "uvicorn_workers": 1,
            "clients": f"{concurrency} asyncio tasks, one httpx.AsyncClient, same host",
        },
        "reload_interval_s": reload_interval_s,
        **code_version(),
    }
    if load[0] > 0.5 * cpus:
        info["note"] = (
            f"the host was busy before the run (1-minute load {load[0]:.2f} on {cpus} cores, "
            "e.g. model training on the same cores); latencies include that contention"
        )
    return info


def run(
    *,
    duration_s: float = 60,
    concurrency: int = 8,
    models_dir: Path = REPO / "models",
    out: Path | None = REPO / "benchmarks" / "results" / "load.json",
    reload_interval_s: float = 2.0,
) -> dict[str, Any]:
    env = environment(concurrency, reload_interval_s)
    with tempfile.TemporaryDirectory(prefix="rnngan-load-") as tmp:
        copy = Path(tmp) / "models"
        shutil.copytree(models_dir, copy, ignore=shutil.ignore_patterns(".*"))
        served = {p.name: _served_version(copy, p.name) for p in sorted(copy.iterdir())}
        log_path = Path(tmp) / "server.log"
        base_env = {**os.environ}
        for name in ("RNNGAN_API_KEYS", "RNNGAN_API_KEYS_FILE"):  # the clients send no key
            base_env.pop(name, None)
        with start_server(
            copy,
            env={"RNNGAN_LOG_LEVEL": "warning", "PYTHONPATH": str(REPO)},
            base_env=base_env,
            cwd=copy.parent,  # not the repository: a developer's .env must not apply
            log_path=log_path,
            reload_interval_s=reload_interval_s,
        ) as server:
            result = asyncio.run(_drive(server.base, server.proc, copy, duration_s, concurrency))
        server_log = log_path.read_text(errors="replace").splitlines()
    result = {
        "benchmark": "load",
        "command": f"python -m benchmarks.load --duration {duration_s:g} "
        f"--concurrency {concurrency}",
        "environment": {**env, "loadavg_1m_at_end": round(os.getloadavg()[0], 2)},
        "models_at_start": served,
        **result,
        "server_errors_logged": [line for line in server_log if '"level": "ERROR"' in line][:10],
    }
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients")
    parser.add_argument("--models-dir", type=Path, default=REPO / "models")
    parser.add_argument("--reload-interval", type=float, default=2.0, help="server's poll (s)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "load.json")
    args = parser.parse_args()
    result = run(
        duration_s=args.duration,
        concurrency=args.concurrency,
        models_dir=args.models_dir,
        out=args.out,
        reload_interval_s=args.reload_interval,
    )
    brief = {k: result[k] for k in ("requests", "failures", "status_5xx", "throughput_rps")}
    print(json.dumps({**brief, "per_route": result["per_route"], "swap": result["swap"]}, indent=2))
    print(json.dumps(result["shutdown"]))
    if result["failures"] or result["status_5xx"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
