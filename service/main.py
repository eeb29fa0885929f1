"""The FastAPI app. Run with `rnngan serve` or
`uvicorn service.main:create_app --factory --port 8000`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline

from service import __version__
from service.config import Settings
from service.deps import AppState, digest, require_api_key
from service.errors import install_error_handlers
from service.observability import Metrics, ObservabilityMiddleware
from service.registry import Registry
from service.routes import datasets, forecast, health, models, samples

log = logging.getLogger("rnngan.service")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = Metrics()
    state = AppState(
        settings=settings,
        registry=Registry(settings),
        metrics=metrics,
        key_digests=[digest(k) for k in settings.all_api_keys()],
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.registry.reload()
        for key in state.registry.refused:
            metrics.load_failures.labels(key.split("/")[0]).inc()
        state.ready = True
        log.info(
            "serving %d model(s) from %s; refused: %s; auth: %s",
            len(state.registry.models),
            settings.models_dir,
            sorted(state.registry.refused) or "none",
            "api keys" if state.key_digests else "open",
        )
        yield
        state.ready = False

    app = FastAPIOffline(
        title="rnngan",
        version=__version__,
        description="Recurrent GANs for time series: synthetic series and probabilistic forecasts.",
        lifespan=lifespan,
    )
    app.state.rnngan = state
    install_error_handlers(app)
    app.add_middleware(ObservabilityMiddleware, metrics=metrics)
    app.include_router(health.router)
    guarded = [Depends(require_api_key)]
    for module in (models, samples, datasets, forecast):
        app.include_router(module.router, dependencies=guarded)
    return app
