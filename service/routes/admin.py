"""Operations: POST /admin/reload rescans the model repository now (the poller does it every
`reload_interval_s`). Needs an API key whenever keys are configured."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from service.deps import AppState, app_state
from service.errors import error_responses
from service.schemas import ReloadResponse

router = APIRouter(tags=["admin"])


@router.post("/admin/reload", response_model=ReloadResponse, responses=error_responses(401, 413))
def reload_models(state: AppState = Depends(app_state)) -> ReloadResponse:
    """Pick up new or changed versions without a restart. Unchanged versions keep their ONNX
    session; a version that fails its checks is refused and the good one it would have
    replaced keeps serving; requests already running finish on the model they started with."""
    report = state.reload_models()
    return ReloadResponse(models=report.models, refused=report.refused, reopened=report.reopened)
