"""Shared benchmark helpers: the machine, thread settings and code version that go beside every
figure (`python -m benchmarks.provenance`, i.e. `make docs-check`, reads the code version back)."""

from __future__ import annotations

import json
import logging
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# What a benchmark's numbers can depend on; a change here that is not committed makes a run
# "dirty", and the changed files' contents are recorded so the check can still compare them.
CODE_ROOTS = (
    "training", "service", "rnngan", "benchmarks", "configs", "examples", "models", "data",
)  # fmt: skip


def _git(*args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=REPO, capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip()


def code_version() -> dict[str, Any]:
    """The commit the benchmark ran on, whether tracked code differed from it, and when (UTC).

    `dirty_files` maps each tracked file under CODE_ROOTS that differs from the commit to the git
    blob id of its content then (None: deleted), so that `benchmarks.provenance` can tell whether
    today's code is the code that ran, also when a change was measured before it was committed.
    """
    info: dict[str, Any] = {"utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    try:
        info["commit"] = _git("rev-parse", "HEAD")
        changed = _git("diff", "--name-only", "HEAD", "--", *CODE_ROOTS).splitlines()
    except (OSError, subprocess.SubprocessError):  # no git, or not a checkout
        return {**info, "commit": None, "dirty": None}
    dirty: dict[str, str | None] = {}
    for path in changed:
        dirty[path] = _git("hash-object", "--", path) if (REPO / path).is_file() else None
    return {**info, "dirty": bool(dirty), "dirty_files": dirty}


def setup_logging() -> None:
    """INFO for the benchmark's own lines; the HTTP client's per-request lines are silenced,
    as they would cost the load generator CPU that the servers under test share."""
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


CODE_KEYS = ("commit", "dirty", "dirty_files", "utc")


def kept(results: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per-case results kept from an earlier run: each keeps the code version it was measured on,
    and one measured before runs recorded it says so (`commit` None), rather than passing for
    the code of the run that keeps it."""
    return {name: {"code": {"commit": None, "utc": None}, **r} for name, r in results.items()}


def write_merged(
    path: Path, measured: dict[str, dict[str, Any]], order: Sequence[str] | None = None
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Write a per-case results file: the cases just `measured` over those kept from the file
    (read only now, so that cases a concurrent `--only` run wrote meanwhile are kept; see
    `kept`), in `order` when given. Returns the results and the environment block written."""
    previous = json.loads(path.read_text()) if path.is_file() else {}
    results = {**kept(previous.get("results", {})), **measured}
    if order is not None:
        results = {name: results[name] for name in order if name in results}
    env = environment()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"environment": env, "results": results}, indent=2) + "\n")
    return results, env


def hardware(env: dict[str, Any]) -> str:
    """An environment block as `key=value, …` for a doc, without its code version (code_line)."""
    return ", ".join(f"{k}={v}" for k, v in env.items() if k not in CODE_KEYS)


def code_line(env: dict[str, Any]) -> str:
    """The doc line that says which code produced the figures (`make docs-check` checks it)."""
    commit = env.get("commit")
    if not commit:
        return (
            "Code: not recorded (results written before the benchmarks recorded their commit); "
            "`make docs-check` compares the results file's last commit with the code."
        )
    changed = sorted(env.get("dirty_files") or {})
    dirty = ""
    if changed:
        shown = ", ".join(changed[:3]) + (
            f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        )
        dirty = f" with uncommitted changes to {shown}"
    return (
        f"Code: commit {commit[:10]}{dirty}, run {env.get('utc')}; `make docs-check` says "
        "whether the code has changed since."
    )


def environment(torch_threads: int | None = None) -> dict[str, Any]:
    import numpy as np

    info: dict[str, Any] = {
        "machine": platform.machine(),
        "processor": platform.processor() or "unknown",
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "unset"),
        "gpu": "none",
        **code_version(),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch_threads or torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            info["memory_gib"] = round(int(fh.readline().split()[1]) / 2**20, 1)
    except OSError:
        pass
    return info


TRAINED_ON = "bench_code.json"  # in a run folder: the code (code_version) that trained it


def train_and_evaluate(config: Any, reuse: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train (unless `reuse` and a checkpoint exists) and evaluate one config, timed: (timings,
    metrics); `trained_on` is the code that trained the run (`code_version` then), recorded in
    the run folder so that a reused run reports it, with the training time it recorded. A run
    trained before that record existed cannot be reused: its figures would name code that never
    trained it."""
    import json
    import time

    from training.checkpoint import CHECKPOINT
    from training.evaluate.run import evaluate_run
    from training.train import train

    timings: dict[str, Any] = {}
    if not (reuse and (config.run_dir / CHECKPOINT).is_file()):
        started = time.perf_counter()
        train(config)
        timings["train_seconds"] = round(time.perf_counter() - started, 1)
        timings["trained_on"] = code_version()
        (config.run_dir / TRAINED_ON).write_text(json.dumps(timings["trained_on"], indent=2))
    else:
        record = config.run_dir / TRAINED_ON
        if not record.is_file():
            raise SystemExit(
                f"{config.run_dir}: no record of the code that trained it ({TRAINED_ON}); "
                "run without --reuse"
            )
        timings["trained_on"] = json.loads(record.read_text())
        recorded = json.loads((config.run_dir / "training.json").read_text())
        timings["train_seconds"] = recorded["seconds"]
        timings["train_reused"] = True
    started = time.perf_counter()
    metrics = evaluate_run(config.run_dir)
    timings["evaluate_seconds"] = round(time.perf_counter() - started, 1)
    return timings, metrics


def run_one(config: Any, reuse: bool, force: bool = False) -> dict[str, Any]:
    """Train (unless `reuse` and a checkpoint exists), evaluate and export one config, timed.
    `force`: export even when the verdict suspects collapse (recorded as `exported_forced`)."""
    from pathlib import Path

    from training.export import export

    timings, metrics = train_and_evaluate(config, reuse)
    out = export(config.run_dir, Path("models"), force=force)
    forced = force and bool((metrics.get("verdict") or {}).get("collapse_suspected"))
    return {
        **({"exported_forced": True} if forced else {}),
        "model": f"{config.name}/{config.version}",
        # Per result (a rerun of one data set keeps the others' figures); `trained_on` (in
        # timings) is the code that trained the model, which docs-check holds to the same rule:
        # a reused run trained on older code reads as stale.
        "code": code_version(),
        "exported_to": str(out),
        "seed": config.seed,
        "steps": config.train.steps,
        **timings,
        "metrics": metrics,
    }


def write_block(doc: Path, begin: str, end: str, block: str) -> None:
    """Put `block` (from `begin` to `end`, markers included) in `doc`: in place of the block
    between those markers, else appended after a blank line."""
    text = doc.read_text(encoding="utf-8") if doc.is_file() else ""
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    doc.write_text(text, encoding="utf-8")


def run_cli(*args: str, quiet: bool = False) -> None:
    """`python -m rnngan <args>` as a user runs it (OMP_WAIT_POLICY=PASSIVE); `quiet` drops its
    stdout (the progress bars and reports of long runs)."""
    cmd = [sys.executable, "-m", "rnngan", *args]
    logging.getLogger("rnngan.bench").info("$ %s", " ".join(cmd[2:]))
    out = subprocess.DEVNULL if quiet else None
    subprocess.run(cmd, check=True, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}, stdout=out)
