"""`make bench-datasets`: how fast bulk data sets stream, and whether the server's memory stays
flat. For each format (csv, parquet, ndjson, csv+gzip), rows/s of

  (a) the generator alone (counter-based noise + ONNX Runtime, `generate_chunks`),
  (b) the writer alone, fed precomputed values (`encode_stream` over blocks in memory),
  (c) generation + serialization in process, written to /dev/null,
  (d) the HTTP download through a real uvicorn process on loopback (started here),

the server's peak RSS while streaming 1 M and 10 M rows (psutil on the server pid, sampled in a
thread), a serial cProfile of generation + csv encoding, the load average, and the thread
settings. Writes `benchmarks/results/datasets.json` and the table in `docs/datasets.md`.

    python -m benchmarks.datasets [--model sines] [--rows 1000000] [--http-rows 1000000,10000000]
    python -m benchmarks.datasets --only csv+gzip   # rerun some formats, keep the others' rows

`--only` reruns the named formats and keeps the other formats' figures from the previous
results file (the table says which run each row comes from). gzip uses ISA-L when the `isal`
package is installed; `RNNGAN_GZIP=zlib` measures the standard-library fallback.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import logging
import os
import pstats
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

import httpx
import numpy as np
import psutil

from benchmarks.common import code_line, environment, hardware, setup_logging
from rnngan.core.noise import series_noise
from service import compression
from service import streaming as datasets
from service.config import Settings
from service.registry import LoadedModel, Registry
from service.streaming import generate_chunks
from tests.helpers.server import start_server, uvicorn

RESULTS = Path("benchmarks/results/datasets.json")
TABLE = Path("docs/datasets.md")
Compression = Literal["none", "gzip"]
FORMATS: dict[str, tuple[datasets.Format, Compression]] = {  # label -> (format, compression)
    "csv": ("csv", "none"),
    "parquet": ("parquet", "none"),
    "ndjson": ("ndjson", "none"),
    "csv+gzip": ("csv", "gzip"),
}
LENGTH = 24
log = logging.getLogger("rnngan.bench")


def _best_rate(rows: int, run: Callable[[], object], repeats: int) -> float:
    """Rows/s of the fastest of `repeats` runs (the cores are shared: the fastest run is the one
    least disturbed by other work)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return rows / best


def _drain(stream: Iterable[bytes]) -> int:
    total = 0
    with open(os.devnull, "wb") as sink:
        for data in stream:
            sink.write(data)
            total += len(data)
    return total


def _chunks(model: LoadedModel, rows: int, chunk: int) -> Iterable[tuple[int, np.ndarray]]:
    return generate_chunks(
        model, n=rows // LENGTH, length=LENGTH, seed=1, offset=0, chunk_series=chunk
    )


def _stage_costs(model: LoadedModel, blocks: list[tuple[int, np.ndarray]]) -> dict[str, float]:
    """Microseconds per row of each stage alone, one chunk at a time."""
    features = model.manifest.features
    start, block = blocks[0]
    k = block.shape[0]
    rows = k * LENGTH
    latent = model.manifest.latent_dim
    noise = series_noise(1, 0, k, LENGTH, latent)
    table = datasets.long_table(start, block, features)
    csv = b"".join(
        datasets.encode_stream([(start, block)], features=features, fmt="csv", header=True)
    )
    ndjson = b"".join(
        datasets.encode_stream([(start, block)], features=features, fmt="ndjson", header=True)
    )
    stages: dict[str, Callable[[], object]] = {
        "noise": lambda: series_noise(1, 0, k, LENGTH, latent),
        "onnx_runtime": lambda: model.session.run(["samples"], {"noise": noise}),
        "long_table": lambda: datasets.long_table(start, block, features),
        "csv_encode": lambda: datasets._csv_encode(table, False),
        "ndjson_encode": lambda: datasets._ndjson_encode(table),
        "parquet_encode": lambda: _drain(
            datasets.encode_stream([(start, block)], features=features, fmt="parquet", header=True)
        ),
        "gzip_csv": lambda: _gzip("csv", csv),
        "gzip_ndjson": lambda: _gzip("ndjson", ndjson),
    }
    return {name: round(1e6 / _best_rate(rows, run, 5), 3) for name, run in stages.items()}


def _gzip(fmt: str, data: bytes) -> bytes:
    compressor = compression.gzip_compressor(fmt)
    return compressor.compress(data) + compressor.flush()


def _gzip_writers(
    blocks: list[tuple[int, np.ndarray]], features: list[str], rows: int, repeats: int
) -> dict[str, int]:
    """csv+gzip writer-only rows/s with each gzip library on the same blocks, runs alternating
    (so both meet the same background load); the fastest of `repeats` + 1 each."""
    backends = ["isal", "zlib"] if compression.isal_zlib is not None else ["zlib"]
    best = dict.fromkeys(backends, 0.0)
    saved = os.environ.get("RNNGAN_GZIP")
    try:
        for _ in range(repeats + 1):
            for name in backends:
                os.environ["RNNGAN_GZIP"] = name
                started = time.perf_counter()
                _drain(
                    datasets.encode_stream(
                        iter(blocks), features=features, fmt="csv", header=True, compression="gzip"
                    )
                )
                best[name] = max(best[name], rows / (time.perf_counter() - started))
    finally:
        if saved is None:
            os.environ.pop("RNNGAN_GZIP", None)
        else:
            os.environ["RNNGAN_GZIP"] = saved
    return {name: round(rate) for name, rate in best.items()}


def _gzip_cpu(blocks: list[tuple[int, np.ndarray]], features: list[str]) -> dict[str, float]:
    """CPU µs per row of the csv gzip stage alone, per library, and of the csv encoding before
    it: thread CPU time, which other work on the machine barely changes (unlike the rates)."""
    csv = [datasets._csv_encode(datasets.long_table(s, b, features), s == 0) for s, b in blocks]
    rows = sum(b.shape[0] * b.shape[1] for _, b in blocks)
    backends = ["isal", "zlib"] if compression.isal_zlib is not None else ["zlib"]
    best = dict.fromkeys(backends, float("inf"))
    for _ in range(3):
        for name in backends:
            packer = compression.gzip_compressor("csv", name)  # type: ignore[arg-type]
            started = time.thread_time()
            for data in csv:
                packer.compress(data)
            packer.flush()
            best[name] = min(best[name], time.thread_time() - started)
    started = time.thread_time()
    for s, b in blocks:
        datasets._csv_encode(datasets.long_table(s, b, features), False)
    encode = time.thread_time() - started
    out = {f"gzip_{name}": round(cpu / rows * 1e6, 3) for name, cpu in best.items()}
    return {**out, "csv_encode": round(encode / rows * 1e6, 3)}


def _profile(model: LoadedModel, rows: int, chunk: int) -> list[dict[str, Any]]:
    """cProfile of generation + csv encoding run serially in this thread, no worker threads
    (the route overlaps them in two, which cProfile cannot follow): where a row's time goes."""
    features = model.manifest.features
    profiler = cProfile.Profile()
    profiler.enable()
    with open(os.devnull, "wb") as sink:
        for start, block in _chunks(model, rows, chunk):
            sink.write(datasets._csv_encode(datasets.long_table(start, block, features), False))
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = sum(entry[2] for entry in stats.stats.values())  # type: ignore[attr-defined]
    top = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:8]  # type: ignore[attr-defined]
    return [
        {
            "function": f"{Path(file).name}:{line}({name})" if line else name,
            "seconds": round(tottime, 3),
            "share": round(tottime / total, 3),
        }
        for (file, line, name), (_, _, tottime, _, _) in top
    ]


class Server:
    """`uvicorn service.main:create_app --factory`, one worker, on a free loopback port."""

    def __init__(self, models_dir: Path) -> None:
        command = uvicorn("service.main:create_app", "--workers", "1", "--log-level", "warning")
        self.live = start_server(models_dir, command=command, reload_interval_s=None)
        self.base = self.live.base
        self.process = psutil.Process(self.live.proc.pid)

    def warm_up(self) -> None:
        """One small download per format: Arrow's compute kernels and memory pool, gzip and
        the threadpool start up here, not inside the first measured run."""
        for fmt, packing in FORMATS.values():
            body = {"n": 4096, "length": LENGTH, "seed": 1, "format": fmt}
            self.download({**body, "compression": packing}, idle=self.rss())

    def rss(self) -> int:
        procs = [self.process, *self.process.children(recursive=True)]
        return sum(p.memory_info().rss for p in procs)

    def download(self, body: dict[str, Any], idle: int) -> dict[str, float]:
        """Stream one data set, discarding it; rate, bytes and the server's RSS around it
        (`idle`: its RSS after start-up and warm-up, before any measured download)."""
        baseline = self.rss()
        peak = [baseline]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.02):
                peak[0] = max(peak[0], self.rss())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        received = 0
        started = time.perf_counter()
        try:
            with httpx.Client(base_url=self.base, timeout=120) as client:
                with client.stream("POST", "/v1/models/sines/datasets", json=body) as r:
                    r.raise_for_status()
                    for data in r.iter_raw(1 << 20):
                        received += len(data)
            elapsed = time.perf_counter() - started
        finally:
            done.set()
            sampler.join()
        return {
            "rows_per_s": round(body["n"] * body["length"] / elapsed),
            "bytes": received,
            "seconds": round(elapsed, 2),
            "rss_baseline_mb": round(baseline / 2**20, 1),
            "rss_peak_mb": round(peak[0] / 2**20, 1),
            "rss_added_mb": round((peak[0] - baseline) / 2**20, 1),
            "rss_over_idle_mb": round((peak[0] - idle) / 2**20, 1),
        }

    def close(self) -> None:
        self.live.close()


def _rate(value: float) -> str:
    return f"{value / 1e6:.2f} M"


def _count(n: int) -> str:
    return f"{n / 1e6:.0f} M" if n >= 999_000 else f"{n / 1e3:.0f} k"


def _mark(ok: bool) -> str:
    return "yes" if ok else "**no**"


def table(result: dict[str, Any]) -> str:
    formats = result["formats"]
    small, big = min(result["http_rows"]), max(result["http_rows"])
    idle = next(iter(formats.values()))["rss_idle_mb"]
    lines = [
        "# Bulk data sets: speed and memory",
        "",
        "Produced by `make bench-datasets` (`benchmarks/datasets.py`); do not edit by hand.",
        "The route and its formats are described in the README (`POST /v1/models/{name}/datasets`)",
        "and `service/streaming.py`; this page measures them.",
        "",
        f"Model `{result['model']}` ({result['n_features']} features), series of {LENGTH} "
        f"steps, {result['chunk_series']} series per chunk; a row is one (series, step). "
        "Generator only: noise + ONNX Runtime. Writer only: the encoder fed precomputed values. "
        "In-process: generation + encoding written to /dev/null. HTTP: the download through a "
        "real uvicorn process on loopback. Rates: the fastest of "
        f"{result['repeats']} runs of {_count(result['rows'])} rows (in-process and HTTP runs "
        "alternate, so both meet the same background load).",
        "",
        "| format | generator only | writer only | in-process | HTTP | HTTP / in-process "
        f"| server RSS peak, {_count(small)} rows | {_count(big)} rows |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, r in formats.items():
        small_run, big_run = r["http"][str(small)], r["http"][str(big)]
        generator = _rate(r.get("generator_rows_per_s", result["generator_rows_per_s"]))
        lines.append(
            f"| {label} | {generator} | {_rate(r['writer_rows_per_s'])} "
            f"| {_rate(r['in_process_rows_per_s'])} | {_rate(r['http_rows_per_s'])} "
            f"| {r['http_over_in_process']:.2f} "
            f"| {small_run['rss_peak_mb']:.0f} MB (+{small_run['rss_over_idle_mb']:.0f}) "
            f"| {big_run['rss_peak_mb']:.0f} MB (+{big_run['rss_over_idle_mb']:.0f}) |"
        )
    rerun = sorted(result.get("rerun_formats", []))
    lines += [
        "",
        f"RSS (+): added over the server's RSS once started and warmed up ({idle:.0f} MB, all "
        "shipped models loaded).",
        *(
            [
                "",
                f"Rows {', '.join(rerun)} are from the latest run (`--only`), as are the stage "
                "costs, the profile and the load average below; the other rows are kept from the "
                f"previous full run ({result['previous_run']}).",
            ]
            if rerun
            else []
        ),
        "",
        "| format | HTTP ≥ 0.8 × in-process | writer ≥ 1 M rows/s | "
        f"{_count(big)} rows add < 400 MB | bytes/row |",
        "|---|---|---|---|---|",
    ]
    for label, r in formats.items():
        t = r["targets"]
        lines.append(
            f"| {label} | {_mark(t['http_at_least_0.8x_in_process'])} "
            f"| {_mark(t['writer_at_least_1M_rows_per_s'])} "
            f"| {_mark(t['rss_added_under_400MB'])} | {r['bytes_per_row']} |"
        )
    costs = " | ".join(f"{v}" for v in result["stage_us_per_row"].values())
    top = "; ".join(f"{p['function']} {p['share']:.0%}" for p in result["profile"][:5])
    env, threads = result["environment"], result["threads"]
    lines += [
        "",
        "Where the time goes, µs per row, each stage alone (one chunk):",
        "",
        "| " + " | ".join(result["stage_us_per_row"]) + " |",
        "|---" * len(result["stage_us_per_row"]) + "|",
        f"| {costs} |",
        "",
        f"cProfile of generation + csv run serially in one thread: {top}.",
        "",
        "The route overlaps the stages: the next chunk is generated in a worker thread while",
        "this one is encoded (gzip: encoding also runs ahead of compression), and ONNX Runtime,",
        "Arrow and igzip/zlib release the GIL, so with two free cores a download runs at about the",
        "rate of its slowest stage — the generator — rather than their sum. gzip is tuned for",
        "speed: ISA-L's igzip (the `isal` package) at level 2 for csv and 1 for ndjson; without",
        "it, zlib Huffman-only for csv (float digits gain little from LZ matching) and level 1",
        "for ndjson (zlib's default level 6 was five times slower than the generator).",
        f"gzip in this run: {result.get('gzip', 'zlib')}."
        + (
            " csv+gzip writer only, by library, on the same blocks with runs alternating: "
            + ", ".join(
                f"{name} {_rate(rate)} rows/s"
                for name, rate in result["gzip_writer_rows_per_s"].items()
            )
            + "."
            if result.get("gzip_writer_rows_per_s")
            else ""
        )
        + (
            " CPU µs per row (thread CPU time, which the load barely changes): "
            + ", ".join(f"{k} {v}" for k, v in result["csv_gzip_cpu_us_per_row"].items())
            + "."
            if result.get("csv_gzip_cpu_us_per_row")
            else ""
        ),
        "",
        f"Load average (1, 5, 15 min) before: {result['loadavg_before']}, after: "
        f"{result['loadavg_after']}, on {env['cpu_count']} cores"
        + (
            " — the cores were shared with other work during this run, so every rate above is "
            "depressed; the ratios and the memory figures are the comparable parts."
            if result["cores_shared"]
            else "."
        ),
        "",
        "Threads: " + ", ".join(f"{k}={v}" for k, v in threads.items()) + ".",
        "",
        "Hardware: " + hardware(env) + ".",
        "",
        code_line(env),
        *(
            [
                f"Formats other than {', '.join(result['rerun_formats'])}: kept from earlier runs "
                f"({'; '.join(_describe(v) for v in result['kept_code'])})."
            ]
            if result.get("kept_code")
            else []
        ),
        "",
    ]
    return "\n".join(lines)


def _describe(version: dict[str, Any]) -> str:
    if not version.get("commit"):
        return "code not recorded"
    dirty = " + uncommitted changes" if version.get("dirty") else ""
    return f"commit {version['commit'][:10]}{dirty}, run {version.get('utc')}"


def _code_of(env: dict[str, Any]) -> dict[str, Any]:
    """The code version in an environment block (commit None: written before it was recorded)."""
    return {k: env.get(k) for k in ("commit", "dirty", "dirty_files", "utc")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="sines")
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of each timed run")
    parser.add_argument(
        "--http-rows", default="1000000,10000000", help="sizes of the server-RSS downloads"
    )
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--only",
        default=None,
        help=f"comma-separated formats to rerun ({', '.join(FORMATS)}); the others keep their "
        "figures from the previous results file",
    )
    args = parser.parse_args()
    only = list(FORMATS) if args.only is None else [x.strip() for x in args.only.split(",")]
    unknown = sorted(set(only) - set(FORMATS))
    if unknown:
        raise SystemExit(f"--only: unknown format(s) {unknown}; known: {list(FORMATS)}")
    previous = json.loads(RESULTS.read_text()) if args.only and RESULTS.is_file() else None
    setup_logging()
    rows = args.rows - args.rows % LENGTH
    http_rows = sorted({rows, *(int(x) - int(x) % LENGTH for x in args.http_rows.split(","))})
    loadavg_before = [round(x, 2) for x in os.getloadavg()]

    settings = Settings(models_dir=args.models_dir, _env_file=None)  # type: ignore[call-arg]
    registry = Registry(settings)
    registry.reload()
    model = registry.get(args.model)
    if model is None or model.manifest.task != "generate":
        raise SystemExit(f"no generate model '{args.model}' in {args.models_dir}")
    features = model.manifest.features
    # The route's chunk size: dataset_chunk_series, capped so a chunk stays under the /samples
    # value limit.
    chunk = max(1, min(settings.dataset_chunk_series, settings.max_sample_values // LENGTH))

    log.info("generator only, %d rows", rows)
    generator = _best_rate(rows, lambda: list(_chunks(model, rows, chunk)), args.repeats)
    blocks = list(_chunks(model, rows, chunk))  # (b) is fed these precomputed values
    gzip_writers = _gzip_writers(blocks, features, rows, args.repeats) if "csv+gzip" in only else {}
    gzip_cpu = _gzip_cpu(blocks, features) if "csv+gzip" in only else {}
    log.info("stage costs and serial profile")
    stages = _stage_costs(model, blocks)
    profile = _profile(model, min(rows, 500_000), chunk)

    server = Server(args.models_dir)
    formats: dict[str, dict[str, Any]] = {}
    try:
        server.warm_up()
        idle = server.rss()
        for label in only:
            fmt, packing = FORMATS[label]
            log.info("%s: writer only, in process and over HTTP", label)

            def writer(fmt: datasets.Format = fmt, packing: Compression = packing) -> int:
                stream = datasets.encode_stream(
                    iter(blocks), features=features, fmt=fmt, header=True, compression=packing
                )
                return _drain(stream)

            def in_process(fmt: datasets.Format = fmt, packing: Compression = packing) -> float:
                started = time.perf_counter()
                stream = datasets.encode_stream(
                    _chunks(model, rows, chunk),
                    features=features,
                    fmt=fmt,
                    header=True,
                    compression=packing,
                )
                _drain(stream)
                return rows / (time.perf_counter() - started)

            def body(n_rows: int, fmt: str = fmt, packing: str = packing) -> dict[str, Any]:
                n = n_rows // LENGTH
                return {
                    "n": n,
                    "length": LENGTH,
                    "seed": 1,
                    "format": fmt,
                    "compression": packing,
                }

            writer()  # warm-up: Arrow's compute kernels initialise on first use (~1 s for ndjson)
            entry: dict[str, Any] = {
                "generator_rows_per_s": round(generator),
                "writer_rows_per_s": round(_best_rate(rows, writer, args.repeats)),
                "bytes_per_row": round(writer() / rows, 2),
            }
            # In process and over HTTP alternate, so that both meet the same background load.
            local, remote = [], []
            for _ in range(args.repeats):
                local.append(in_process())
                remote.append(server.download(body(rows), idle))
            entry["in_process_rows_per_s"] = round(max(local))
            best = max(remote, key=lambda r: r["rows_per_s"])
            entry["http_rows_per_s"] = best["rows_per_s"]
            entry["http_over_in_process"] = round(best["rows_per_s"] / max(local), 3)
            http: dict[str, Any] = {
                str(rows): {
                    **best,
                    "rss_peak_mb": max(r["rss_peak_mb"] for r in remote),
                    "rss_over_idle_mb": max(r["rss_over_idle_mb"] for r in remote),
                }
            }
            for n_rows in http_rows:
                if n_rows != rows:
                    http[str(n_rows)] = server.download(body(n_rows), idle)
            log.info("%s: %s", label, {**entry, "http": http})
            entry["http"] = http
            entry["rss_idle_mb"] = round(idle / 2**20, 1)
            entry["targets"] = {
                "http_at_least_0.8x_in_process": entry["http_over_in_process"] >= 0.8,
                "writer_at_least_1M_rows_per_s": entry["writer_rows_per_s"] >= 1_000_000,
                "rss_added_under_400MB": all(h["rss_over_idle_mb"] < 400 for h in http.values()),
            }
            formats[label] = entry
    finally:
        server.close()
    blocks.clear()

    if previous is not None:  # --only: the other formats keep their previous rows, in order
        kept = {  # each row keeps the generator rate of the run it comes from
            label: {"generator_rows_per_s": previous["generator_rows_per_s"], **entry}
            for label, entry in previous["formats"].items()
        }
        formats = {label: formats.get(label, kept.get(label)) for label in FORMATS}
        formats = {label: entry for label, entry in formats.items() if entry is not None}
    loadavg_after = [round(x, 2) for x in os.getloadavg()]
    cpu_count = os.cpu_count() or 1
    result = {
        "model": args.model,
        "n_features": len(features),
        "length": LENGTH,
        "chunk_series": chunk,
        "rows": rows,
        "http_rows": http_rows,
        "repeats": args.repeats,
        "generator_rows_per_s": round(generator),
        "gzip": compression.describe(),
        "gzip_writer_rows_per_s": gzip_writers,
        "csv_gzip_cpu_us_per_row": gzip_cpu,
        "formats": formats,
        "stage_us_per_row": stages,
        "profile": profile,
        "loadavg_before": loadavg_before,
        "loadavg_after": loadavg_after,
        # A load average near the core count before this run started means other work had them.
        "cores_shared": max(loadavg_before[0], loadavg_after[0]) > 0.5,
        "threads": {
            "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "unset"),
            "ort_intra_op_threads": settings.ort_intra_op_threads,
            "ort_inter_op_threads": settings.ort_inter_op_threads,
            "ort_allow_spinning": settings.ort_allow_spinning,
            "uvicorn_workers": 1,
            # Dataset chunks bypass the micro-batcher (service/streaming.generate_chunks).
            "batch_max_rows": getattr(settings, "batch_max_rows", None),
            "batch_max_wait_ms": getattr(settings, "batch_max_wait_ms", None),
            "gzip": compression.describe(),
            "pipeline": "generation one chunk ahead in a prefetch thread; gzip: encoding one "
            "chunk ahead of compression in another",
        },
        "environment": {**environment(), "cpu_count": cpu_count},
    }
    if previous is not None:
        result["rerun_formats"] = only
        # The other formats' figures come from the earlier runs: keep the code they ran on too.
        earlier = [*previous.get("kept_code", []), _code_of(previous["environment"])]
        result["kept_code"] = [v for i, v in enumerate(earlier) if v not in earlier[:i]]
        result["previous_run"] = previous.get("previous_run") or (
            f"load {previous['loadavg_before']} before, gzip {previous.get('gzip', 'zlib')}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    TABLE.write_text(table(result))
    log.info("wrote %s and %s", RESULTS, TABLE)


if __name__ == "__main__":
    main()
