"""The baseline a user would write: the same generator in torch inside a FastAPI route, no
batching, no ONNX. Serves the forecaster and the sample generator of one run directory each
(`TORCH_FORECAST_RUN`, `TORCH_GENERATE_RUN`), with the request shapes of rnngan's v1 API.

    TORCH_FORECAST_RUN=runs/etth1_ot uvicorn benchmarks.torch_server:app --port 8001
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from fastapi import FastAPI
from pydantic import BaseModel

from training.checkpoint import load_run
from training.families import build_graph

app = FastAPI(title="torch baseline")
_models: dict[str, tuple[object, torch.nn.Module]] = {}


def _load(kind: str) -> tuple[object, torch.nn.Module]:
    if kind not in _models:
        ckpt = load_run(Path(os.environ[f"TORCH_{kind.upper()}_RUN"]))
        _models[kind] = (ckpt.config, build_graph(ckpt))
    return _models[kind]


class Series(BaseModel):
    id: str
    values: list[float]


class ForecastBody(BaseModel):
    series: list[Series]
    horizon: int = 24
    quantiles: list[float] = [0.1, 0.5, 0.9]
    num_samples: int = 200
    seed: int = 0


class SamplesBody(BaseModel):
    n: int = 1
    length: int = 24
    seed: int = 0


@app.post("/v1/models/{name}/forecast")
def forecast(name: str, body: ForecastBody) -> dict[str, object]:
    config, graph = _load("forecast")
    context = config.data.context_len  # type: ignore[attr-defined]
    latent = config.model.latent_dim  # type: ignore[attr-defined]
    g = torch.Generator().manual_seed(body.seed)
    out = []
    with torch.no_grad():
        for s in body.series:
            history = torch.tensor(s.values[-context:], dtype=torch.float32).unsqueeze(0)
            noise = torch.randn(1, body.num_samples, body.horizon, latent, generator=g)
            paths = graph(history, noise)[0].numpy()  # (num_samples, horizon)
            qs = np.quantile(paths, body.quantiles, axis=0)
            out.append(
                {
                    "id": s.id,
                    "mean": paths.mean(axis=0).tolist(),
                    "quantiles": {repr(q): qs[i].tolist() for i, q in enumerate(body.quantiles)},
                }
            )
    return {"model": name, "forecasts": out}


@app.post("/v1/models/{name}/samples")
def samples(name: str, body: SamplesBody) -> dict[str, object]:
    config, graph = _load("generate")
    latent = config.model.latent_dim  # type: ignore[attr-defined]
    g = torch.Generator().manual_seed(body.seed)
    with torch.no_grad():
        noise = torch.randn(body.n, body.length, latent, generator=g)
        values = graph(noise).numpy()
    return {"model": name, "samples": values.tolist()}


@app.get("/healthz")
def healthz() -> dict[str, str]:
    _load("forecast"), _load("generate")
    return {"status": "ok"}
