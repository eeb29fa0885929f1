"""`make bench-client`: `rnngan.client`'s sharded download of a big data set against one request,
written to `benchmarks/results/client.json`.

Against a real `rnngan serve` process (tests/helpers/server.py) with the shipped `sines` model,
csv, ~10 M rows (416,667 series × 24 steps):

1. one request, streamed to a file (httpx): the reference bytes and rate;
2. `Client.download` in 4 shards, nothing broken;
3. the same, with shard 2's connection dropped half-way (tests/helpers/faults.py): the client
   keeps its whole series, has the server check them, and fetches the rest;
4. the same in a child process killed (SIGKILL) once half the bytes are on disk, then a rerun
   with `resume=True`: the rerun's time, and the two runs' total.

Each run's file is compared byte for byte (sha-256 and size) with the single request's. Rates
are rows/s over the wall time of the call (the server's checks included). `checksum_rows_generated`
(cumulative) counts the rows the server had to generate again to answer a checksum (a cache miss);
0 means every piece, the kept parts of broken ones too, was checked from the digests the server
kept while streaming. Thread settings beside
the figures: OMP_WAIT_POLICY=PASSIVE, ONNX Runtime threads as the service settings say (1 intra,
1 inter, no spinning by default), one uvicorn worker, and the load average of the shared host.

    python -m benchmarks.client_download [--series 416667] [--shards 4]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import environment, setup_logging
from rnngan.client import Client
from tests.helpers.faults import BreakingTransport
from tests.helpers.server import REPO, start_server

log = logging.getLogger("bench.client")
RESULTS = REPO / "benchmarks" / "results" / "client.json"
MODEL, LENGTH, SEED = "sines", 24, 1


def _sha(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def checksum_rows(base: str) -> int:
    """Rows the server generated to answer checksum requests (cache misses), from /metrics."""
    for line in httpx.get(f"{base}/metrics").text.splitlines():
        if line.startswith("rnngan_rows_generated_total{") and "datasets/checksum" in line:
            return int(float(line.rsplit(" ", 1)[1]))
    return 0


def single_request(base: str, body: dict[str, Any], out: Path) -> float:
    began = time.perf_counter()
    with (
        httpx.Client(timeout=600) as http,
        http.stream("POST", f"{base}/v1/models/{MODEL}/datasets", json=body) as response,
    ):
        response.raise_for_status()
        with out.open("wb") as sink:
            for data in response.iter_bytes():
                sink.write(data)
    return time.perf_counter() - began


def _child(base: str, out: str, n: int, shards: int) -> None:
    """The download a parent kills (`--child`)."""
    with Client(base) as client:
        client.download(MODEL, out, n=n, length=LENGTH, seed=SEED, shards=shards, progress=False)


def killed_then_resumed(
    base: str, out: Path, n: int, shards: int, total_bytes: int
) -> dict[str, Any]:
    parts = out.parent / f".{out.name}.parts"
    began = time.perf_counter()
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.client_download",
            "--child",
            base,
            str(out),
            str(n),
            str(shards),
        ],
        cwd=REPO,
    )
    on_disk = 0
    while child.poll() is None:
        on_disk = sum(p.stat().st_size for p in parts.glob("shard-*")) if parts.exists() else 0
        if on_disk >= total_bytes // 2:
            child.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    child.wait()
    killed_after = time.perf_counter() - began
    with Client(base) as client:
        summary = client.download(
            MODEL, out, n=n, length=LENGTH, seed=SEED, shards=shards, progress=False
        )
    return {
        "killed_after_s": round(killed_after, 2),
        "bytes_on_disk_when_killed": on_disk,
        "child_returncode": child.returncode,
        "resume_s": round(summary.seconds, 2),
        "total_s": round(time.perf_counter() - began, 2),
        "resumed_pieces": summary.resumed_pieces,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=416_667)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        base, out, n, shards = args.child
        _child(base, out, int(n), int(shards))
        return
    setup_logging()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from service.config import Settings

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    n, shards = args.series, args.shards
    rows = n * LENGTH
    body = {"n": n, "length": LENGTH, "seed": SEED, "format": "csv"}
    work = Path(tempfile.mkdtemp(prefix="bench-client-"))
    result: dict[str, Any] = {
        "model": MODEL,
        "format": "csv",
        "series": n,
        "length": LENGTH,
        "rows": rows,
        "shards": shards,
        "load_before": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        with start_server() as server:
            single = work / "single.csv"
            seconds = single_request(server.base, body, single)
            reference, size = _sha(single), single.stat().st_size
            single.unlink()
            result["bytes"] = size
            result["single_request"] = {"s": round(seconds, 2), "rows_per_s": round(rows / seconds)}
            log.info("one request: %.1f s, %.0f rows/s", seconds, rows / seconds)

            def check(path: Path) -> bool:
                same = path.stat().st_size == size and _sha(path) == reference
                path.unlink()
                return same

            with Client(server.base) as client:
                s = client.download(
                    MODEL,
                    work / "clean.csv",
                    n=n,
                    length=LENGTH,
                    seed=SEED,
                    shards=shards,
                    progress=False,
                )
            result["sharded"] = {
                "s": round(s.seconds, 2),
                "rows_per_s": round(s.rows_per_s),
                "identical": check(work / "clean.csv"),
                "checksum_rows_generated": checksum_rows(server.base),
            }
            log.info("%d shards: %.1f s, identical %s", shards, s.seconds, result["sharded"])

            shard_bytes = size // shards
            target = n * 2 // shards  # shard 2's first series
            transport = BreakingTransport(offset=target, after_bytes=shard_bytes // 2)
            with Client(server.base, transport=transport) as client:
                s = client.download(
                    MODEL,
                    work / "broken.csv",
                    n=n,
                    length=LENGTH,
                    seed=SEED,
                    shards=shards,
                    progress=False,
                )
            result["one_shard_killed_midway"] = {
                "s": round(s.seconds, 2),
                "rows_per_s": round(s.rows_per_s),
                "connections_dropped": transport.broken,
                "dropped_after_bytes": shard_bytes // 2,
                "resumed_pieces": s.resumed_pieces,
                "identical": check(work / "broken.csv"),
                "checksum_rows_generated": checksum_rows(server.base),
            }
            log.info("one shard dropped midway: %s", result["one_shard_killed_midway"])

            crash = killed_then_resumed(server.base, work / "crash.csv", n, shards, size)
            crash["identical"] = check(work / "crash.csv")
            crash["checksum_rows_generated"] = checksum_rows(server.base)
            crash["rows_per_s_overall"] = round(rows / crash["total_s"])
            result["process_killed_and_rerun"] = crash
            log.info("process killed, rerun: %s", crash)
        single_rate = result["single_request"]["rows_per_s"]
        for key in ("sharded", "one_shard_killed_midway"):
            result[key]["vs_single"] = round(result[key]["rows_per_s"] / single_rate, 3)
        crash["vs_single"] = round(crash["rows_per_s_overall"] / single_rate, 3)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    result["threads"] = {
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
        "ort_intra_op_threads": settings.ort_intra_op_threads,
        "ort_inter_op_threads": settings.ort_inter_op_threads,
        "ort_allow_spinning": settings.ort_allow_spinning,
        "uvicorn_workers": 1,
        "client_workers": shards,
    }
    result["environment"] = environment()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    log.info("wrote %s", RESULTS.relative_to(REPO))


if __name__ == "__main__":
    main()
