"""`make bench-ray`: bulk generation of 10 M rows with the single-process CLI against a local
Ray cluster of 2 CPUs (2 actors), written to `benchmarks/results/ray.json` and the table
between the `bench-ray` markers of `docs/scaling.md`.

Measured, each beside the thread settings (OMP_WAIT_POLICY=PASSIVE, ONNX Runtime 1 intra-op and
1 inter-op thread, no spinning) and the load average:

- rows/s of `rnngan generate --out FILE` (one process, one file), of `--engine local
  --rows-per-file` (one process, parts) and of the Ray engine (2 actors, parts; the cluster's
  start-up timed apart), the fastest of `--repeats` alternating runs, and the ratio Ray / CLI;
- byte identity: every Ray part's sha256 equals the local engine's, and sampled parts equal
  `rnngan generate --n <part n> --offset <part start>` byte for byte;
- each Ray worker's peak RSS at two sizes of N (it should not grow with N);
- resume: a rerun after one part is deleted, and a rerun with nothing to do.

    python -m benchmarks.ray_generate [--rows 10000000] [--rows-per-file 500000] [--repeats 2]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from benchmarks.common import code_line, environment, setup_logging
from rnngan.scale.output import SUCCESS, LocalEngine, run_job
from rnngan.scale.parts import Job, load_model, offline_settings, plan_job

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "ray.json"
DOC = REPO / "docs" / "scaling.md"
BEGIN, END = "<!-- bench-ray:begin -->", "<!-- bench-ray:end -->"
log = logging.getLogger("bench.ray")


def _peak_rss(proc: subprocess.Popen[bytes]) -> tuple[int, float]:
    """Wait for `proc`; (its peak RSS in bytes, sampled every 50 ms; wall seconds)."""
    began, peak = time.perf_counter(), 0
    handle = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            peak = max(peak, handle.memory_info().rss)
        except psutil.Error:
            break
        time.sleep(0.05)
    proc.wait()
    return peak, time.perf_counter() - began


def _cli(args: list[str], models_dir: Path) -> dict[str, Any]:
    """Run `rnngan generate ARGS` in a fresh process; wall time, peak RSS, its last line."""
    command = [sys.executable, "-m", "rnngan.cli", "generate", *args, "--models-dir"]
    proc = subprocess.Popen(
        [*command, str(models_dir)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out: list[bytes] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read()))  # type: ignore[union-attr]
    reader.start()
    peak, wall = _peak_rss(proc)
    reader.join()
    if proc.returncode != 0:
        raise RuntimeError(f"generate {args} failed: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
    return {"seconds": wall, "peak_rss": peak, "stdout": b"".join(out).decode().strip()}


def _job(n: int, rows_per_file: int, seed: int, model: str, models_dir: Path) -> Job:
    settings = offline_settings(models_dir)
    return plan_job(
        load_model(settings, model),
        settings,
        n=n,
        seed=seed,
        format="parquet",
        rows_per_file=rows_per_file,
    )


def _ray_run(job: Job, out: Path, settings: Any, workers: int) -> dict[str, Any]:
    from rnngan.ray import RayEngine

    with RayEngine(settings, workers=workers) as engine:
        began = time.perf_counter()
        summary = run_job(job, out, engine)
        seconds = time.perf_counter() - began
        stats = engine.stats()
    return {
        "seconds": seconds,
        "actor_start_s": engine.ready_s,
        "rows": summary.rows,
        "workers": stats,
    }


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="sines")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--small-rows", type=int, default=2_000_000, help="RSS at a 2nd N")
    parser.add_argument("--rows-per-file", type=int, default=500_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--models-dir", type=Path, default=REPO / "models")
    args = parser.parse_args()
    setup_logging()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import ray

    from rnngan.ray import connect

    settings = offline_settings(args.models_dir)
    loaded = load_model(settings, args.model)
    seq_len = loaded.manifest.seq_len or 1
    n = -(-args.rows // seq_len)  # series for at least `rows` rows
    job = _job(n, args.rows_per_file, args.seed, args.model, args.models_dir)
    parts = job.parts()
    result: dict[str, Any] = {
        "model": f"{job.model}/{job.version}",
        "series": n,
        "seq_len": seq_len,
        "rows": n * seq_len,
        "rows_per_file": args.rows_per_file,
        "parts": len(parts),
        "load_before": list(os.getloadavg()),
        "threads": {
            "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
            "ort_intra_op_threads": settings.ort_intra_op_threads,
            "ort_inter_op_threads": settings.ort_inter_op_threads,
            "ort_allow_spinning": settings.ort_allow_spinning,
            "per_process": "generation one chunk ahead of encoding in a prefetch thread",
            "ray": f"local cluster num_cpus={args.workers}, {args.workers} actors of 1 CPU",
        },
    }
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
        root = Path(tmp)
        common = ["--model", args.model, "--n", str(n), "--seed", str(args.seed)]
        common += ["--format", "parquet"]
        began = time.perf_counter()
        connect(num_cpus=args.workers)
        result["ray_start_s"] = time.perf_counter() - began
        runs: dict[str, list[dict[str, Any]]] = {"cli_file": [], "local_parts": [], "ray": []}
        for repeat in range(args.repeats):
            for kind in ("cli_file", "local_parts", "ray"):
                target = root / f"{kind}-{repeat}"
                log.info("run %d: %s, %d rows", repeat + 1, kind, n * seq_len)
                if kind == "cli_file":
                    run = _cli([*common, "--out", str(target)], args.models_dir)
                elif kind == "local_parts":
                    rows_per_file = ["--rows-per-file", str(args.rows_per_file)]
                    run = _cli([*common, *rows_per_file, "--out", str(target)], args.models_dir)
                else:
                    run = _ray_run(job, target, settings, args.workers)
                run["load"] = list(os.getloadavg())
                run["rows_per_s"] = n * seq_len / run["seconds"]
                if kind == "ray":  # once the actors have loaded the model
                    run["steady_rows_per_s"] = n * seq_len / (run["seconds"] - run["actor_start_s"])
                runs[kind].append(run)
                log.info("  %.1f s, %.2f M rows/s", run["seconds"], run["rows_per_s"] / 1e6)
        best = {kind: max(r["rows_per_s"] for r in rs) for kind, rs in runs.items()}
        result["runs"] = {
            kind: [{k: v for k, v in r.items() if k != "stdout"} for r in rs]
            for kind, rs in runs.items()
        }
        result["best_rows_per_s"] = best
        result["ratio_ray_vs_cli"] = best["ray"] / best["cli_file"]
        result["ratio_ray_vs_local_parts"] = best["ray"] / best["local_parts"]
        result["ray_steady_rows_per_s"] = max(r["steady_rows_per_s"] for r in runs["ray"])
        result["ratio_ray_steady_vs_cli"] = result["ray_steady_rows_per_s"] / best["cli_file"]

        # Byte identity: Ray parts == local-engine parts (every one), == the single CLI (sampled).
        local, remote = root / "local_parts-0", root / "ray-0"
        same = [_sha(local / p.file) == _sha(remote / p.file) for p in parts]
        success_same = (local / SUCCESS).read_bytes() == (remote / SUCCESS).read_bytes()
        sampled = []
        for part in sorted({parts[0], parts[len(parts) // 2], parts[-1]}, key=lambda p: p.index):
            single = root / f"single-{part.index}.parquet"
            cli = ["--model", args.model, "--seed", str(args.seed), "--format", "parquet"]
            cli += ["--n", str(part.n), "--offset", str(part.start), "--out", str(single)]
            _cli(cli, args.models_dir)
            sampled.append(
                {
                    "part": part.file,
                    "equal": single.read_bytes() == (remote / part.file).read_bytes(),
                }
            )
        result["identity"] = {
            "ray_parts_equal_local_parts": f"{sum(same)}/{len(same)}",
            "success_equal": success_same,
            "parts_equal_single_cli": sampled,
        }

        # Worker RSS at a second, smaller N (fresh actors): flat in N if the peaks agree.
        small = _job(
            -(-args.small_rows // seq_len), args.rows_per_file, args.seed, args.model,
            args.models_dir,
        )  # fmt: skip
        small_run = _ray_run(small, root / "ray-small", settings, args.workers)
        result["worker_peak_rss_mb"] = {
            str(small.n * seq_len): [round(w["peak_rss"] / 2**20) for w in small_run["workers"]],
            str(n * seq_len): [round(w["peak_rss"] / 2**20) for w in runs["ray"][-1]["workers"]],
        }
        result["cli_file_peak_rss_mb"] = [round(r["peak_rss"] / 2**20) for r in runs["cli_file"]]

        # Resume: one part deleted; then nothing to do. Ray engine, cluster already up.
        (remote / parts[len(parts) // 2].file).unlink()
        resume = _ray_run(job, remote, settings, args.workers)
        noop = _ray_run(job, remote, settings, args.workers)
        result["resume"] = {
            "one_part_deleted_s": resume["seconds"],
            "nothing_to_do_s": noop["seconds"],
            "full_run_s": min(r["seconds"] for r in runs["ray"]),
            "note": "includes reading and hashing every kept part (sha256)",
        }
        # Local engine resume, for a machine without Ray.
        (local / parts[0].file).unlink()
        began = time.perf_counter()
        run_job(job, local, LocalEngine(settings))
        result["resume"]["local_one_part_deleted_s"] = time.perf_counter() - began
        ray.shutdown()
        # The user's command end to end: it starts (and stops) its own local cluster.
        rows_per_file = ["--rows-per-file", str(args.rows_per_file)]
        engine = ["--engine", "ray", "--workers", str(args.workers)]
        target = root / "cli-ray"
        run = _cli([*common, *engine, *rows_per_file, "--out", str(target)], args.models_dir)
        result["cli_ray_end_to_end"] = {
            "seconds": run["seconds"],
            "rows_per_s": n * seq_len / run["seconds"],
            "parts_equal_local": all(_sha(target / p.file) == _sha(local / p.file) for p in parts),
            "note": "rnngan generate --engine ray in a fresh process: Python start, a local "
            "cluster of all this machine's CPUs started and stopped, actors, parts",
        }
        shutil.rmtree(root, ignore_errors=True)
    result["load_after"] = list(os.getloadavg())
    result["environment"] = environment()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    _write_doc(result)
    log.info("wrote %s and %s", RESULTS, DOC)
    print(json.dumps({k: result[k] for k in ("best_rows_per_s", "ratio_ray_vs_cli")}, indent=1))


def _write_doc(r: dict[str, Any]) -> None:
    best, t = r["best_rows_per_s"], r["threads"]
    runs = r["runs"]
    threads = (
        f"OMP_WAIT_POLICY={t['OMP_WAIT_POLICY']}, ONNX Runtime intra-op threads = "
        f"{t['ort_intra_op_threads']}, inter-op threads = {t['ort_inter_op_threads']}, "
        f"spinning {'on' if t['ort_allow_spinning'] else 'off'}; {t['per_process']}"
    )
    rss = r["worker_peak_rss_mb"]
    sizes = sorted(rss, key=int)

    def secs(kind: str) -> str:
        return " / ".join(f"{x['seconds']:.1f}" for x in runs[kind])

    lines = [
        BEGIN,
        "",
        f"Produced by `make bench-ray` (`benchmarks/ray_generate.py`); do not edit by hand. "
        f"Model `{r['model']}`, {r['rows']:,} rows ({r['series']:,} series × {r['seq_len']} "
        f"steps), parquet, seed 1, {r['parts']} parts of {r['rows_per_file']:,} rows "
        "(part runs). Fastest of the runs; runs alternate, so each meets the same background "
        "load.",
        "",
        "| how | processes | wall s (each run) | rows/s (best) | vs single CLI |",
        "|---|---|---|---|---|",
        f"| `rnngan generate --out FILE` | 1 | {secs('cli_file')} | "
        f"{best['cli_file'] / 1e6:.2f} M | 1.00× |",
        f"| `--engine local --rows-per-file` | 1 | {secs('local_parts')} | "
        f"{best['local_parts'] / 1e6:.2f} M | {best['local_parts'] / best['cli_file']:.2f}× |",
        f"| `--engine ray`, local cluster of 2 CPUs | 2 actors | {secs('ray')} | "
        f"{best['ray'] / 1e6:.2f} M | **{r['ratio_ray_vs_cli']:.2f}×** |",
        f"| the same, once the actors have loaded the model | 2 actors | "
        f"{' / '.join(format(x['actor_start_s'], '.1f') for x in runs['ray'])} of start-up | "
        f"{r['ray_steady_rows_per_s'] / 1e6:.2f} M | {r['ratio_ray_steady_vs_cli']:.2f}× |",
        f"| `rnngan generate --engine ray` end to end, cluster start included | 2 actors | "
        f"{r['cli_ray_end_to_end']['seconds']:.1f} | "
        f"{r['cli_ray_end_to_end']['rows_per_s'] / 1e6:.2f} M | "
        f"{r['cli_ray_end_to_end']['rows_per_s'] / best['cli_file']:.2f}× |",
        "",
        f"Threads, every row: {threads}; Ray: {t['ray']}. The CLI runs include process start "
        f"and model loading (~2 s); the Ray runs include actor start and model loading but not "
        f"the cluster's start-up, {r['ray_start_s']:.1f} s, paid once per `rnngan generate "
        "--engine ray`.",
        "",
        f"- Byte identity: Ray parts equal to the local engine's "
        f"{r['identity']['ray_parts_equal_local_parts']}, `_SUCCESS` equal: "
        f"{r['identity']['success_equal']}; parts equal to `rnngan generate --n --offset`: "
        + ", ".join(
            f"{s['part']} {'yes' if s['equal'] else '**no**'}"
            for s in r["identity"]["parts_equal_single_cli"]
        )
        + ".",
        f"- Peak RSS per Ray worker: {rss[sizes[0]]} MB at {int(sizes[0]):,} rows, "
        f"{rss[sizes[1]]} MB at {int(sizes[1]):,} rows; single CLI process: "
        f"{r['cli_file_peak_rss_mb']} MB at {r['rows']:,} rows (it loads every model of the "
        "repository; an actor loads one).",
        f"- Resume ({r['resume']['note']}): one part deleted "
        f"{r['resume']['one_part_deleted_s']:.1f} s (Ray), "
        f"{r['resume']['local_one_part_deleted_s']:.1f} s (local engine); nothing to do "
        f"{r['resume']['nothing_to_do_s']:.1f} s; the full Ray run "
        f"{r['resume']['full_run_s']:.1f} s.",
        f"- Load average (1, 5, 15 min) before: {[round(x, 2) for x in r['load_before']]}, "
        f"after: {[round(x, 2) for x in r['load_after']]}, on "
        f"{r['environment']['cpu_count']} cores shared with other work.",
        "",
        code_line(r["environment"]),
        "",
        END,
    ]
    text = DOC.read_text(encoding="utf-8") if DOC.is_file() else f"{BEGIN}\n{END}\n"
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    DOC.write_text(pattern.sub(lambda m: "\n".join(lines), text), encoding="utf-8")


if __name__ == "__main__":
    main()
