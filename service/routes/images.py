"""Images from an image model: POST /v1/models/{name}/images (PNG grid, JSON or .npy)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from service import images
from service.deps import AppState, app_state, lookup
from service.errors import error_responses
from service.plans import plan_images
from service.schemas import ImagesRequest, ImagesResponse

router = APIRouter(tags=["image"])
MEDIA = {"json": "application/json", "png": "image/png", "npy": "application/octet-stream"}


@router.post(
    "/v1/models/{name}/images",
    response_model=ImagesResponse,
    responses={
        **error_responses(404, 413, 422),
        200: {"content": {t: {} for t in MEDIA.values()}},
    },
)
def images_route(name: str, body: ImagesRequest, state: AppState = Depends(app_state)) -> Response:
    """`png`: a grid (`X-Unknown-Words` lists prompt words read as <unk>); `json`: pixel units;
    `npy`: uint8 (n, height, width) in pixel units. The same body gives the same bytes."""
    model = lookup(state, name, "image")
    plan = plan_images(model, body, state.settings)
    pixels = images.pixel_units(images.generate_images(model, plan), plan.spec.pixel_max)
    state.metrics.rows.labels("/v1/models/{name}/images", name).inc(plan.n)
    headers = (
        {}
        if body.format == "json"
        else {"Content-Disposition": f"inline; filename={name}-{body.seed}-{body.n}.{body.format}"}
    )
    if plan.unknown_words:
        headers["X-Unknown-Words"] = ",".join(plan.unknown_words)
    data = images.encode(model, plan, pixels, body.prompt)
    return Response(data, media_type=MEDIA[body.format], headers=headers)
