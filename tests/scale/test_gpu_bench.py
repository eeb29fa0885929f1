"""`make bench-gpu` without a GPU: it records why it did not run and exits 0, quickly, without
starting a server (the CPU build of onnxruntime has no CUDAExecutionProvider)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO


def test_gpu_bench_without_cuda_writes_not_run(tmp_path: Path) -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this environment has a CUDA provider: run `make bench-gpu` instead")
    out = tmp_path / "gpu.json"
    began = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.gpu", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert time.perf_counter() - began < 30
    data = json.loads(out.read_text())
    assert data["status"] == "not run: no CUDA provider"
    assert "CPUExecutionProvider" in data["providers_available"]
    assert "serving" not in data
