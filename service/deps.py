"""Shared route dependencies: the app state and model lookup by task (API keys: service/auth.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from service.config import Settings
from service.digests import DigestCache
from service.errors import InvalidInput, ModelNotFound, NotReady
from service.observability import Metrics
from service.pinned import VersionNotServed
from service.registry import LoadedModel, Registry, ReloadReport
from service.versioned import pinned_version


@dataclass
class AppState:
    settings: Settings
    registry: Registry
    metrics: Metrics
    key_digests: list[bytes]
    ready: bool = False
    digests: DigestCache = field(default_factory=DigestCache)  # completed downloads' sha-256

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
    """The served version of model `name`, or the version the request pinned
    (`/v1/models/{name}/versions/{version}/…`, service/versioned.py)."""
    if not state.ready:
        raise NotReady("The service is still loading its models; retry shortly.")
    model = state.registry.get(name)
    if model is None:
        served = ", ".join(sorted(state.registry.models)) or "none"
        raise ModelNotFound(f"Model '{name}' not found; served models: {served}.")
    version = pinned_version()
    if version is not None:
        try:
            model = state.registry.get_version(name, version)
        except VersionNotServed as exc:
            raise ModelNotFound(str(exc)) from None
    if task is not None and model.manifest.task != task:
        raise InvalidInput(
            f"Model '{name}' is {_article(model.manifest.task)} model; this route needs "
            f"{_article(task)} model."
        )
    return model


def _article(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"
