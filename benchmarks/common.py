"""Shared benchmark helpers: the machine and thread settings that go beside every figure."""

from __future__ import annotations

import os
import platform
from typing import Any


def setup_logging() -> None:
    """INFO for the benchmark's own lines; the HTTP client's per-request lines are silenced,
    as they would cost the load generator CPU that the servers under test share."""
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


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


def run_one(config: Any, reuse: bool) -> dict[str, Any]:
    """Train (unless `reuse` and a checkpoint exists), evaluate and export one config, timed."""
    import time
    from pathlib import Path

    from training.checkpoint import CHECKPOINT
    from training.evaluate.run import evaluate_run
    from training.export import export
    from training.train import train

    timings: dict[str, Any] = {}
    if not (reuse and (config.run_dir / CHECKPOINT).is_file()):
        started = time.perf_counter()
        train(config)
        timings["train_seconds"] = round(time.perf_counter() - started, 1)
    elif (config.run_dir / "training.json").is_file():  # reused: report when it was trained
        import json

        recorded = json.loads((config.run_dir / "training.json").read_text())
        timings["train_seconds"] = recorded["seconds"]
        timings["train_reused"] = True
    started = time.perf_counter()
    metrics = evaluate_run(config.run_dir)
    timings["evaluate_seconds"] = round(time.perf_counter() - started, 1)
    out = export(config.run_dir, Path("models"))
    return {
        "model": f"{config.name}/{config.version}",
        "exported_to": str(out),
        "seed": config.seed,
        "steps": config.train.steps,
        **timings,
        "metrics": metrics,
    }
