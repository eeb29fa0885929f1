"""The FastAPI app. Run with `rnngan serve` (graceful SIGTERM, exit 0) or
`uvicorn service.main:create_app --factory --port 8000`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from rnngan import __version__
from service.auth import ApiKeyMiddleware, digest
from service.body_limit import BodyLimitMiddleware
from service.config import Settings
from service.deps import AppState
from service.errors import document_errors, install_error_handlers
from service.logging_setup import configure_logging
from service.memory import tune_allocators
from service.observability import Metrics, ObservabilityMiddleware
from service.openapi import install_openapi, operation_id
from service.registry import Registry, ReloadPoller
from service.routes import admin, card, datasets, forecast, health, images, models, samples
from service.versioned import add_version_routes

log = logging.getLogger("rnngan.service")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.log_format, settings.log_level)
    tune_allocators()
    metrics = Metrics()
    state = AppState(
        settings=settings,
        registry=Registry(settings),
        metrics=metrics,
        key_digests=[digest(k) for k in settings.all_api_keys()],
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.reload_models()
        state.ready = True
        log.info(
            "serving %d model(s) from %s; refused: %s; auth: %s; reload every %s",
            len(state.registry.models),
            settings.models_dir,
            sorted(state.registry.refused) or "none",
            "api keys" if state.key_digests else "open",
            f"{settings.reload_interval_s:g} s" if settings.reload_interval_s else "(off)",
        )
        poller = None
        if settings.reload_interval_s > 0:
            poller = ReloadPoller(state.reload_models, settings.reload_interval_s)
            poller.start()
        try:
            yield
        finally:
            state.ready = False
            if poller is not None:
                poller.stop()

    app = FastAPIOffline(
        title="rnngan",
        version=__version__,
        description="Recurrent GANs for time series: synthetic series and probabilistic forecasts.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
    )
    app.state.rnngan = state
    install_error_handlers(app)
    document_errors(app)
    install_openapi(
        app,
        lambda: [m.manifest for m in state.registry.models.values()],
        api_keys=bool(state.key_digests),
    )
    # Added last = outermost: the request id and metrics cover the 401s and 413s too, and the
    # key is checked before the body is read.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(ApiKeyMiddleware, digests=lambda: state.key_digests)
    app.add_middleware(
        ObservabilityMiddleware, metrics=metrics, served=lambda: state.registry.models
    )
    app.include_router(health.router)
    for module in (models, card, samples, datasets, forecast, images, admin):
        app.include_router(module.router)
    add_version_routes(app)  # /v1/models/{name}/versions/{version}/... for each model route
    return app
