"""Model listing, manifests and quality reports: GET /v1/models, GET /v1/models/{name},
GET /v1/models/{name}/report; and the request limits the models are served under,
GET /v1/limits (what a client sizes its requests by)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Response

from service.deps import AppState, app_state, lookup
from service.errors import ModelNotFound, NotReady, error_responses
from service.schemas import Limits, ModelList, ModelSummary
from service.versioned import pinned_version

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
def get_model(
    name: str, response: Response, state: AppState = Depends(app_state)
) -> dict[str, Any]:
    """The model's manifest: shapes, features, scaler, training config and measured metrics.
    Its `Link` header points at the model card (an HTML page for people)."""
    model = lookup(state, name)
    pinned = pinned_version()  # a pinned manifest links the card of the same version
    base = f"/v1/models/{model.name}" + (f"/versions/{pinned}" if pinned is not None else "")
    response.headers["Link"] = f'<{base}/card>; rel="describedby"; type="text/html"'
    # `versions`: the versions that can be pinned (`/v1/models/{name}/versions/{version}/...`).
    return {**model.manifest.model_dump(mode="json"), "versions": state.registry.available[name]}


@router.get("/v1/limits", response_model=Limits)
async def limits(state: AppState = Depends(app_state)) -> Limits:
    """Each limit a request is checked against (413 above it), from the service's settings."""
    return Limits.model_validate(state.settings.model_dump(include=set(Limits.model_fields)))


REPORT_FILE = "report.json"  # written beside the manifest by `rnngan export` (issue #15)


@router.get("/v1/models/{name}/report", responses=error_responses(404))
def get_report(name: str, state: AppState = Depends(app_state)) -> dict[str, Any]:
    """The model's quality report (report.json beside its manifest): scores beside their real
    floors, per-column checks for tables and the verdict. 404 for a model exported without one."""
    model = lookup(state, name)
    path = model.path / REPORT_FILE
    try:
        report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ModelNotFound(
            f"Model '{name}' version {model.manifest.version} has no quality report; "
            "export it again with `rnngan export` to write one."
        ) from None
    return report
