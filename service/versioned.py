"""Pinned versions over HTTP: every model route `/v1/models/{name}…` is also served at
`/v1/models/{name}/versions/{version}…`, by the same endpoint on that version of the model.

`add_version_routes(app)` runs once the routers are included: it copies each such route (method,
body, responses, docs) under the pinned path, with a wrapper that sets `PINNED` for the request
while the endpoint runs; `service.deps.lookup` then resolves the model to that version (404 when
the model has no such version). A route added later under `/v1/models/{name}` gets its pinned
twin with no other change. The unversioned routes serve the highest version, as before.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Annotated, Any

from fastapi import FastAPI, Path
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

PREFIX = "/v1/models/{name}"
PINNED_PREFIX = PREFIX + "/versions/{version}"
# The version a request pinned, for the endpoint it runs (None: the served version). Set inside
# the endpoint's own call (a worker thread for `def` routes), so nothing else sees it.
PINNED: ContextVar[int | None] = ContextVar("rnngan_pinned_version", default=None)

VersionParam = Annotated[
    int, Path(ge=1, description="a version of the model (`GET /v1/models/{name}` lists them)")
]


def pinned_version() -> int | None:
    return PINNED.get()


def _pinned(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """`endpoint` with a `version` path parameter that pins the model version while it runs."""
    signature = inspect.signature(endpoint, eval_str=True)
    parameters = [
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in signature.parameters.values()
    ]
    parameters.append(
        inspect.Parameter("version", inspect.Parameter.KEYWORD_ONLY, annotation=VersionParam)
    )
    wrapper: Callable[..., Any]
    if inspect.iscoroutinefunction(endpoint):

        async def wrapper(*, version: int, **kwargs: Any) -> Any:
            token = PINNED.set(version)
            try:
                return await endpoint(**kwargs)
            finally:
                PINNED.reset(token)

    else:

        def wrapper(*, version: int, **kwargs: Any) -> Any:
            token = PINNED.set(version)
            try:
                return endpoint(**kwargs)
            finally:
                PINNED.reset(token)

    functools.update_wrapper(wrapper, endpoint)
    # FastAPI must read the signature below, not the endpoint's.
    setattr(wrapper, "__signature__", signature.replace(parameters=parameters))  # noqa: B010
    delattr(wrapper, "__wrapped__")  # noqa: B043
    wrapper.__name__ = f"{endpoint.__name__}_pinned"
    return wrapper


def api_routes(routes: Iterable[BaseRoute], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """(full path, route) of every API route, inside included routers too: FastAPI 0.165+
    keeps an included router as one entry (its `original_router` and `include_context`)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        elif hasattr(route, "original_router"):
            inner = prefix + getattr(getattr(route, "include_context", None), "prefix", "")
            yield from api_routes(route.original_router.routes, inner)


def add_version_routes(app: FastAPI) -> None:
    """Add the pinned twin of every `/v1/models/{name}…` route of `app`."""
    for path, route in list(api_routes(app.router.routes)):
        if path.startswith(PINNED_PREFIX) or (path != PREFIX and not path.startswith(PREFIX + "/")):
            continue
        app.router.add_api_route(
            PINNED_PREFIX + path.removeprefix(PREFIX),
            _pinned(route.endpoint),
            response_model=route.response_model,
            status_code=route.status_code,
            tags=route.tags,
            dependencies=route.dependencies,
            summary=f"{route.summary or route.name.replace('_', ' ').capitalize()}, pinned version",
            description=route.description,
            response_description=route.response_description,
            responses=route.responses,
            deprecated=route.deprecated,
            methods=route.methods,
            response_model_exclude_none=route.response_model_exclude_none,
            include_in_schema=route.include_in_schema,
            response_class=route.response_class,
            name=f"{route.name}_pinned",
            openapi_extra=route.openapi_extra,
            generate_unique_id_function=route.generate_unique_id_function,
        )
