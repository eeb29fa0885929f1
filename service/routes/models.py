"""Model listing and manifests: GET /v1/models, GET /v1/models/{name}."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from service.deps import AppState, app_state, lookup
from service.errors import NotReady, error_responses
from service.schemas import ModelList, ModelSummary

router = APIRouter(tags=["models"])


@router.get("/v1/models", response_model=ModelList)
def list_models(state: AppState = Depends(app_state)) -> ModelList:
    if not state.ready:
        raise NotReady("The service is still loading its models; retry shortly.")
    return ModelList(
        models=[
            ModelSummary(
                name=m.name,
                version=m.manifest.version,
                task=m.manifest.task,
                features=m.manifest.features,
            )
            for m in sorted(state.registry.models.values(), key=lambda m: m.name)
        ]
    )


@router.get("/v1/models/{name}", responses=error_responses(404))
def get_model(name: str, state: AppState = Depends(app_state)) -> dict[str, Any]:
    """The model's manifest: shapes, features, scaler, training config and measured metrics."""
    return lookup(state, name).manifest.model_dump(mode="json")
