"""`make bench-serving`: rnngan (ONNX Runtime, micro-batching) against the baseline a user
would write (the same generator in torch inside a FastAPI route, `benchmarks/torch_server.py`),
both started the same way (one uvicorn worker each, on loopback) and measured in the same run.

A closed-loop load generator runs C clients (C = 1, 8, 32, 64), each sending its next request
as soon as the last one is answered, for `--seconds` per point: single-series forecasts
(history 168, horizon 24, 100 samples) and small sample requests (n 4, length 24). Results:
`benchmarks/results/serving.json` and `docs/serving.md`.

Both servers get generators of the shipped configs' architectures (configs/etth1_ot.toml,
configs/sines.toml), trained for a few steps here so the benchmark runs from a clean checkout;
speed does not depend on the weights.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from benchmarks.common import code_line, environment, hardware, setup_logging
from service.config import Settings
from tests.helpers.server import Server, start_server, uvicorn

RESULTS = Path("benchmarks/results/serving.json")
TABLE = Path("docs/serving.md")
log = logging.getLogger("rnngan.bench")
HISTORY = [float(20 + 5 * np.sin(i / 24 * 2 * np.pi)) for i in range(168)]
REQUESTS = {
    "forecast": (
        "/v1/models/etth1_ot/forecast",
        {
            "series": [{"id": "a", "values": HISTORY}],
            "horizon": 24,
            "num_samples": 100,
            "quantiles": [0.1, 0.5, 0.9],
            "seed": 0,
        },
    ),
    "samples": ("/v1/models/sines/samples", {"n": 4, "length": 24, "seed": 0}),
}


def prepare(root: Path) -> Path:
    """Train each architecture for a few steps and export it; returns the run directory root."""
    from training.config import load_config
    from training.export import export
    from training.train import train

    for name in ("etth1_ot", "sines"):
        config = load_config(f"configs/{name}.toml")
        t = dataclasses.replace(
            config.train, steps=10, embed_steps=2, supervised_steps=2, select_every=0
        )
        config = dataclasses.replace(config, out_dir=str(root / "runs"), train=t, version=1)
        train(config, progress=False)
        export(config.run_dir, root / "models")
    return root / "runs"


def start(app: str, env: dict[str, str], factory: bool) -> Server:
    options = ("--workers", "1", "--log-level", "warning", "--no-access-log")
    return start_server(
        command=uvicorn(app, *options, factory=factory),
        env=env,
        ready_path="/healthz",  # the torch baseline has no /readyz
        timeout_s=120,
        reload_interval_s=None,
    )


async def closed_loop(base: str, kind: str, clients: int, seconds: float) -> dict[str, Any]:
    path, body = REQUESTS[kind]
    latencies: list[float] = []
    failures = 0
    transport_errors: dict[str, int] = {}  # connections dropped or refused, by exception
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        for _ in range(2):  # warm-up
            await client.post(path, json=body)
        stop = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal failures
            while time.perf_counter() < stop:
                started = time.perf_counter()
                try:
                    r = await client.post(path, json=body)
                except httpx.TransportError as exc:  # counted, not fatal: one server's bad luck
                    name = type(exc).__name__
                    transport_errors[name] = transport_errors.get(name, 0) + 1
                    continue
                if r.status_code != 200:
                    failures += 1
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - began
    ms = sorted(x * 1000 for x in latencies)
    return {
        "requests": len(ms),
        "failures": failures,
        "transport_errors": transport_errors,
        "throughput_rps": len(ms) / elapsed,
        "p50_ms": statistics.median(ms),
        "p99_ms": ms[min(len(ms) - 1, int(0.99 * len(ms)))],
    }


def table(data: dict[str, Any]) -> str:
    lines = [
        "# Serving benchmark",
        "",
        "Produced by `make bench-serving` (`benchmarks/serving.py`); do not edit by hand.",
        "Closed loop on loopback, one uvicorn worker per server, same machine, same run.",
        "Failures: answers other than 200, then connections the server dropped or refused",
        "(by exception; such a request is not timed).",
        "",
    ]
    for kind in REQUESTS:
        lines += [
            f"## {kind}",
            "",
            "| clients | server | req/s | p50 ms | p99 ms | failures |",
            "|---|---|---|---|---|---|",
        ]
        for row in data["results"][kind]:
            for server in ("rnngan", "torch"):
                r = row[server]
                dropped = "".join(
                    f", {n} {name}" for name, n in sorted(r.get("transport_errors", {}).items())
                )
                lines.append(
                    f"| {row['clients']} | {server} | {r['throughput_rps']:.1f} | "
                    f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['failures']}{dropped} |"
                )
            lines.append(
                f"| {row['clients']} | ratio | "
                f"{row['rnngan']['throughput_rps'] / row['torch']['throughput_rps']:.2f}×"
                " | | | |"
            )
        lines.append("")
    lines += [
        "Settings: " + json.dumps(data["settings"]),
        "",
        "Hardware: " + hardware(data["environment"]),
        "",
        code_line(data["environment"]),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="per measured point")
    parser.add_argument("--clients", default="1,8,32,64")
    args = parser.parse_args()
    setup_logging()
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    settings = {
        "OMP_WAIT_POLICY": "PASSIVE",
        "RNNGAN_ORT_INTRA_OP_THREADS": "1",
        "RNNGAN_ORT_INTER_OP_THREADS": "1",
        "RNNGAN_LOG_LEVEL": "warning",
        "micro_batching": f"batch_max_rows {defaults.batch_max_rows} generator rows, "
        f"max wait {defaults.batch_max_wait_ms} ms",
        "uvicorn_workers": 1,
        "torch_threads": "torch default (all cores)",
        "seconds_per_point": args.seconds,
    }
    with tempfile.TemporaryDirectory() as tmp:
        runs = prepare(Path(tmp))
        env = {
            "OMP_WAIT_POLICY": "PASSIVE",
            "RNNGAN_MODELS_DIR": str(Path(tmp) / "models"),
            "RNNGAN_LOG_LEVEL": "warning",  # no per-request access lines (torch has none)
            "RNNGAN_ORT_INTRA_OP_THREADS": "1",
            "RNNGAN_ORT_INTER_OP_THREADS": "1",
            "TORCH_FORECAST_RUN": str(runs / "etth1_ot"),
            "TORCH_GENERATE_RUN": str(runs / "sines"),
        }
        with ExitStack() as stack:
            servers = {
                "rnngan": stack.enter_context(start("service.main:create_app", env, True)),
                "torch": stack.enter_context(start("benchmarks.torch_server:app", env, False)),
            }
            results: dict[str, list[dict[str, Any]]] = {k: [] for k in REQUESTS}
            for kind in REQUESTS:
                for clients in (int(c) for c in args.clients.split(",")):
                    row: dict[str, Any] = {"clients": clients}
                    for name, server in servers.items():
                        row[name] = asyncio.run(
                            closed_loop(server.base, kind, clients, args.seconds)
                        )
                        log.info("%s %s c=%d %s", kind, name, clients, row[name])
                    results[kind].append(row)
    data = {
        "environment": environment(),
        "settings": settings,
        "load_average": os.getloadavg(),
        "results": results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(data, indent=2) + "\n")
    TABLE.write_text(table(data))
    log.info("wrote %s and %s", RESULTS, TABLE)


if __name__ == "__main__":
    main()
