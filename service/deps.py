"""Shared route dependencies: the app state, model lookup by task, API-key check."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from fastapi import Request

from service.config import Settings
from service.errors import InvalidInput, ModelNotFound, NotReady, Unauthorized
from service.observability import Metrics
from service.registry import LoadedModel, Registry, ReloadReport


@dataclass
class AppState:
    settings: Settings
    registry: Registry
    metrics: Metrics
    key_digests: list[bytes]
    ready: bool = False

    def reload_models(self) -> ReloadReport:
        """Rescan the repository (startup, the poller, POST /admin/reload) and count each newly
        refused version once in `rnngan_model_load_failures_total`."""
        report = self.registry.reload()
        for key in report.newly_refused:
            self.metrics.load_failures.labels(key.split("/")[0]).inc()
        return report


# The dependencies are `async def` on purpose: they do no blocking work, and a sync dependency
# costs every request a hop through the threadpool.
async def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.rnngan
    return state


def lookup(state: AppState, name: str, task: str | None = None) -> LoadedModel:
    if not state.ready:
        raise NotReady("The service is still loading its models; retry shortly.")
    model = state.registry.get(name)
    if model is None:
        served = ", ".join(sorted(state.registry.models)) or "none"
        raise ModelNotFound(f"Model '{name}' not found; served models: {served}.")
    if task is not None and model.manifest.task != task:
        raise InvalidInput(
            f"Model '{name}' is a {model.manifest.task} model; this route needs a {task} model."
        )
    return model


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


async def require_api_key(request: Request) -> None:
    """When keys are configured, every /v1 route needs `Authorization: Bearer <key>`."""
    digests = (await app_state(request)).key_digests
    if not digests:
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("This route needs an API key: send 'Authorization: Bearer <key>'.")
    candidate = digest(token.strip())
    # Compare against every key, in constant time, without stopping at the first match.
    ok = False
    for known in digests:
        ok |= hmac.compare_digest(candidate, known)
    if not ok:
        raise Unauthorized("The API key is not valid.")
