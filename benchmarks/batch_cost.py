"""`make bench-batch-cost`: what one ONNX Runtime call costs per request as more requests share
it, for the shipped generators (one intra-op and one inter-op thread, no spinning). This is what
sets the micro-batcher's `batch_max_rows`: a GRU call is compute-bound and gets slower per row
once its working set leaves the cache. Results: `benchmarks/results/batch_cost.json`.

    python -m benchmarks.batch_cost [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from benchmarks.common import environment
from rnngan.core.manifest import Manifest

RESULTS = Path("benchmarks/results/batch_cost.json")
MODELS = Path("models")


def _session(path: Path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _request(manifest: Manifest, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One benchmark request's inputs: a 100-path forecast of one series (horizon 24) or a
    4-series, 24-step sample request."""
    latent = manifest.latent_dim
    if manifest.task == "forecast":
        history = (20 + 5 * rng.random((1, manifest.context_len or 1))).astype(np.float32)
        return {
            "history": history,
            "noise": rng.standard_normal((1, 100, 24, latent)).astype(np.float32),
        }
    return {"noise": rng.standard_normal((4, 24, latent)).astype(np.float32)}


def per_request_ms(
    session: ort.InferenceSession, inputs: dict[str, np.ndarray], k: int, repeats: int
) -> float:
    """Best-of-`repeats` wall time of one call holding `k` copies of the request, per request."""
    batch = {name: np.concatenate([value] * k) for name, value in inputs.items()}
    for _ in range(3):
        session.run(None, batch)
    best = float("inf")
    calls = max(3, 60 // k)
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls):
            session.run(None, batch)
        best = min(best, (time.perf_counter() - started) / calls / k)
    return best * 1000.0


def torch_forecast_ms(inputs: dict[str, np.ndarray], threads: int, repeats: int) -> float:
    """The same forecast request through the torch generator of configs/etth1_ot.toml (what
    the serving benchmark's torch baseline runs; speed does not depend on the weights)."""
    import torch

    from training.config import load_config
    from training.families.forgan import build_nets
    from training.networks import ForecastGraph

    torch.set_num_threads(threads)
    generator = build_nets(load_config("configs/etth1_ot.toml"))[0]
    graph = ForecastGraph(generator).eval()
    history, noise = torch.from_numpy(inputs["history"]), torch.from_numpy(inputs["noise"])
    best = float("inf")
    with torch.no_grad():
        for _ in range(3):
            graph(history, noise)
        for _ in range(repeats):
            started = time.perf_counter()
            for _ in range(60):
                graph(history, noise)
            best = min(best, (time.perf_counter() - started) / 60)
    return best * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    results: dict[str, Any] = {}
    for name in ("etth1_ot", "sines"):
        versions = sorted(MODELS.glob(f"{name}/*/manifest.json"))
        manifest = Manifest.read(versions[-1])
        session = _session(versions[-1].parent / manifest.onnx.file)
        inputs = _request(manifest, rng)
        rows = int(np.prod(inputs["noise"].shape[:-2]))
        results[name] = {
            "request": f"{manifest.task}, {rows} generator rows",
            "ms_per_request_by_requests_per_call": {
                str(k): round(per_request_ms(session, inputs, k, args.repeats), 3)
                for k in (1, 2, 4, 8, 16, 32)
            },
        }
        if manifest.task == "forecast":  # the compute the torch baseline does per request
            results[name]["torch_ms_per_request"] = {
                f"{t} threads": round(torch_forecast_ms(inputs, t, args.repeats), 3) for t in (1, 2)
            }
        print(name, results[name])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps({"environment": environment(), "results": results}, indent=2) + "\n"
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
