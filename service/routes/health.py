"""Probes and metrics: /healthz (liveness), /readyz (models + providers), /metrics.

All three are `async def` and do no blocking work: they answer on the event loop, never queued
behind inference in the thread pool, so they stay fast under any load."""

from __future__ import annotations

import onnxruntime as ort
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.deps import AppState, app_state
from service.schemas import ReadyResponse

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=ReadyResponse, responses={503: {"model": ReadyResponse}})
async def readyz(state: AppState = Depends(app_state)) -> JSONResponse:
    models = [
        {
            "name": m.name,
            "version": m.manifest.version,
            "task": m.manifest.task,
            "providers": m.providers,
        }
        for m in state.registry.models.values()
    ]
    providers = sorted({p for m in state.registry.models.values() for p in m.providers})
    ready = state.ready and bool(models)
    body = ReadyResponse(
        status="ready" if ready else "not ready",
        models=models,
        refused=dict(state.registry.refused),
        providers=providers or state.registry.requested_providers(),
        available_providers=list(ort.get_available_providers()),
    )
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(state: AppState = Depends(app_state)) -> Response:
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
