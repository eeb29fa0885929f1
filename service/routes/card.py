"""The model card, a self-contained HTML page: GET /v1/models/{name}/card (service/card.py)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from service.card import render_card
from service.deps import AppState, app_state, lookup

router = APIRouter(tags=["models"])


# Its 404 ({"detail": ...} as JSON) is documented by service/errors.py: `responses=` here would
# be listed under text/html, the route's media type.
@router.get("/v1/models/{name}/card", response_class=HTMLResponse)
def get_card(name: str, request: Request, state: AppState = Depends(app_state)) -> HTMLResponse:
    """The model card: what the model is, its data, quality (with plots), verdict, limits and
    how to call it, as one HTML page with no external resources."""
    model = lookup(state, name)
    page = render_card(
        model, state.settings, base_url=str(request.base_url), api_keys=bool(state.key_digests)
    )
    return HTMLResponse(page)
