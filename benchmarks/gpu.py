"""`make bench-gpu`: CUDA against CPU on a GPU host, in under 5 minutes; installs nothing.

Run it in an environment with `onnxruntime-gpu` (`make serve ORT=gpu`, the `serve` image) and,
for the training step, a CUDA build of torch. It

1. checks that ONNX Runtime offers `CUDAExecutionProvider`; if not, writes
   `{"status": "not run: no CUDA provider", ...}` and exits 0;
2. starts `rnngan serve` on a copy of `models/` with `RNNGAN_DEVICE=cuda`, checks that `/readyz`
   lists `CUDAExecutionProvider`, and times `/samples` (requests/s and values/s), `/datasets`
   (parquet rows/s) and `/forecast` (series/s) for a fixed time each;
3. does the same with `RNNGAN_DEVICE=cpu`;
4. when torch sees a GPU, times a training step on CUDA and on the CPU: the sines config's
   networks (TimeGAN-class GRU stacks: generator, supervisor, recovery, discriminator) built from
   `torch.nn.GRU` at its sizes, one forward + backward + Adam update of a batch (training/ has no
   device option yet, so this measures the step's arithmetic, not `rnngan train`);
5. writes `benchmarks/results/gpu.json` (with the providers, the GPU's name, thread settings).

    python -m benchmarks.gpu [--seconds 15] [--out benchmarks/results/gpu.json]
    python -m benchmarks.gpu --smoke --out /tmp/gpu.json   # the whole path on CPU, for a check
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "gpu.json"
CUDA = "CUDAExecutionProvider"


def _write(path: Path, result: dict[str, Any]) -> None:
    from benchmarks.common import environment

    result = {**result, "environment": environment()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("status",)} | {"out": str(path)}))


def _providers() -> list[str] | None:
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    return list(ort.get_available_providers())


def _timed(call: Any, seconds: float) -> tuple[int, float]:
    """Call `call()` repeatedly for about `seconds` (after one warm-up call); (calls, wall)."""
    call()
    began, calls = time.perf_counter(), 0
    while True:
        call()
        calls += 1
        wall = time.perf_counter() - began
        if wall >= seconds:
            return calls, wall


def _routes(base: str, seconds: float) -> dict[str, Any]:
    import httpx

    client = httpx.Client(base_url=base, timeout=120)
    out: dict[str, Any] = {}
    ready = client.get("/readyz").json()
    out["providers"] = ready.get("providers")
    samples = {"n": 256, "length": 24, "seed": 1}

    def post_samples() -> None:
        response = client.post("/v1/models/sines/samples", json=samples)
        response.raise_for_status()

    calls, wall = _timed(post_samples, seconds)
    out["samples"] = {
        "body": samples,
        "requests_per_s": calls / wall,
        "values_per_s": calls * 256 * 24 * 5 / wall,
    }
    rows = 1_000_008  # 41,667 series × 24 steps
    dataset = {"n": 41_667, "length": 24, "seed": 1, "format": "parquet"}

    def post_dataset() -> None:
        with client.stream("POST", "/v1/models/sines/datasets", json=dataset) as response:
            response.raise_for_status()
            for _ in response.iter_bytes():
                pass

    calls, wall = _timed(post_dataset, seconds)
    out["datasets"] = {"body": dataset, "rows_per_s": calls * rows / wall}
    manifest = client.get("/v1/models/etth1_ot").json()
    context = int(manifest["context_len"])
    series = [
        {
            "id": f"s{j}",
            "values": [20 + 5 * math.sin((i + j) / 24 * 6.2832) for i in range(context)],
        }
        for j in range(64)
    ]
    forecast = {"series": series, "num_samples": 200, "seed": 0}

    def post_forecast() -> None:
        client.post("/v1/models/etth1_ot/forecast", json=forecast).raise_for_status()

    calls, wall = _timed(post_forecast, seconds)
    out["forecast"] = {
        "body": "64 series × 200 sample paths, the model's horizon",
        "series_per_s": calls * 64 / wall,
        "requests_per_s": calls / wall,
    }
    client.close()
    return out


def _serve(models: Path, device: str, seconds: float) -> dict[str, Any]:
    sys.path.insert(0, str(REPO))
    from tests.helpers.server import start_server

    env = {"RNNGAN_DEVICE": device, "RNNGAN_LOG_FORMAT": "text", "OMP_WAIT_POLICY": "PASSIVE"}
    with start_server(models, env=env, timeout_s=120) as server:
        out = _routes(server.base, seconds)
        log = server.log_text()
    out["cuda_warnings"] = [line for line in log.splitlines() if "cuda" in line.lower()][-5:]
    return out


def _train_step(device: str, steps: int) -> dict[str, Any]:
    """ms per training step of the sines config's networks on `device` (see the docstring)."""
    import torch
    from torch import nn

    config = tomllib.loads((REPO / "configs" / "sines.toml").read_text())
    model, train = config["model"], config["train"]
    hidden, layers, latent = model["hidden_size"], model["num_layers"], model["latent_dim"]
    features, length, batch = 5, config["data"]["seq_len"], train["batch_size"]
    torch.manual_seed(0)

    class Stack(nn.Module):
        def __init__(self, n_in: int, n_out: int) -> None:
            super().__init__()
            self.gru = nn.GRU(n_in, hidden, num_layers=layers, batch_first=True)
            self.head = nn.Linear(hidden, n_out)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.gru(x)[0])  # (B, T, n_out)

    generator, supervisor = Stack(latent, hidden), Stack(hidden, hidden)
    recovery, discriminator = Stack(hidden, features), Stack(features, 1)
    nets = nn.ModuleList([generator, supervisor, recovery, discriminator]).to(device)
    g_params = [p for net in (generator, supervisor, recovery) for p in net.parameters()]
    opt_g = torch.optim.Adam(g_params, lr=train["lr_g"])
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=train["lr_d"])
    real = torch.rand(batch, length, features, device=device)
    loss_fn = nn.BCEWithLogitsLoss()

    def step() -> None:
        noise = torch.randn(batch, length, latent, device=device)
        fake = recovery(supervisor(generator(noise)))
        d_loss = loss_fn(discriminator(real), torch.ones(batch, length, 1, device=device))
        d_loss = d_loss + loss_fn(
            discriminator(fake.detach()), torch.zeros(batch, length, 1, device=device)
        )
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = loss_fn(discriminator(fake), torch.ones(batch, length, 1, device=device))
        g_loss = g_loss + (fake.mean(0) - real.mean(0)).abs().mean()
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    for _ in range(5):
        step()
    sync()
    began = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    wall = time.perf_counter() - began
    return {
        "ms_per_step": 1000 * wall / steps,
        "steps": steps,
        "batch": batch,
        "seq_len": length,
        "parameters": sum(p.numel() for p in nets.parameters()),
        "torch_threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="per route and device")
    parser.add_argument("--train-steps", type=int, default=200)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--smoke", action="store_true", help="run every step on the CPU")
    args = parser.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    began = time.perf_counter()
    providers = _providers()
    result: dict[str, Any] = {"providers_available": providers}
    if providers is None:
        _write(args.out, {"status": "not run: onnxruntime is not installed", **result})
        return
    if CUDA not in providers and not args.smoke:
        _write(args.out, {"status": "not run: no CUDA provider", **result})
        return
    accelerator = "cpu" if args.smoke else "cuda"
    result["status"] = "smoke: every step on the CPU, not a GPU figure" if args.smoke else "ok"
    result["threads"] = {
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
        "RNNGAN_ORT_INTRA_OP_THREADS": os.environ.get("RNNGAN_ORT_INTRA_OP_THREADS", "1"),
        "RNNGAN_ORT_INTER_OP_THREADS": os.environ.get("RNNGAN_ORT_INTER_OP_THREADS", "1"),
        "clients": "one, sequential requests",
    }
    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as tmp:
        models = Path(tmp) / "models"
        shutil.copytree(REPO / "models", models)
        cuda = _serve(models, accelerator, args.seconds)
        if not args.smoke and CUDA not in (cuda.get("providers") or []):
            result["status"] = f"not run: /readyz lists {cuda.get('providers')}, no {CUDA}"
            result["cuda"] = cuda
            _write(args.out, result)
            return
        cpu = _serve(models, "cpu", args.seconds)
    result["serving"] = {"cuda": cuda, "cpu": cpu}
    result["speedup"] = {
        "samples_values_per_s": cuda["samples"]["values_per_s"] / cpu["samples"]["values_per_s"],
        "datasets_rows_per_s": cuda["datasets"]["rows_per_s"] / cpu["datasets"]["rows_per_s"],
        "forecast_series_per_s": cuda["forecast"]["series_per_s"] / cpu["forecast"]["series_per_s"],
    }
    try:
        import torch

        result["torch"] = torch.__version__
        if torch.cuda.is_available() or args.smoke:
            steps = 5 if args.smoke else args.train_steps
            on = _train_step(accelerator, steps)
            off = _train_step("cpu", steps)
            result["train_step"] = {"cuda": on, "cpu": off}
            result["speedup"]["train_step"] = off["ms_per_step"] / on["ms_per_step"]
            if not args.smoke:
                result["gpu"] = torch.cuda.get_device_name(0)
        else:
            result["train_step"] = "not run: torch.cuda.is_available() is False"
    except ImportError:
        result["train_step"] = "not run: torch is not installed"
    result["seconds"] = time.perf_counter() - began
    _write(args.out, result)


if __name__ == "__main__":
    main()
