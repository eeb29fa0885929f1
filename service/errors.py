"""Domain errors and their HTTP mapping, in one place.

Routes raise `ServiceError` subclasses; `install_error_handlers` turns them, request-validation
errors and unexpected exceptions into `{"detail": "..."}` bodies with the right status.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

log = logging.getLogger("rnngan.errors")


class ServiceError(Exception):
    status_code = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(ServiceError):
    """Well-formed JSON whose values the model cannot use (too short a history, NaN ...)."""

    status_code = 422


class ModelNotFound(ServiceError):
    status_code = 404


class TooLarge(ServiceError):
    status_code = 413


class NotReady(ServiceError):
    status_code = 503


class Busy(ServiceError):
    """Inference is at the configured capacity (RNNGAN_MAX_INFLIGHT_ROWS) for longer than the
    queue timeout: 503 with `Retry-After`, never a host out of memory."""

    status_code = 503

    def __init__(self, detail: str, retry_after_s: int = 1) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class ErrorBody(BaseModel):
    """Every error the service answers: one sentence a user can act on."""

    detail: str


_MEANING = {
    400: "the request cannot be read",
    401: "missing or wrong API key (when keys are configured)",
    404: "unknown model",
    413: "over a configured limit (body size, n × length, series, samples, history …)",
    422: "invalid input: the detail names the field or series and says why",
    503: "not ready (models still loading) or busy (at inference capacity; see Retry-After)",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for the error statuses a route can answer, all `{"detail": str}`."""
    return {code: {"model": ErrorBody, "description": _MEANING[code]} for code in codes}


GUARDED_PREFIXES = ("/v1/", "/admin/")


def document_errors(app: FastAPI) -> None:
    """Make the OpenAPI schema say what the error boundary does, for every operation: statuses
    that apply across routes (401/503 behind the key check, 413/422 for any body, 404 for a
    model name) and the `{"detail": str}` body of every error, in place of FastAPI's default
    422 schema (a list of pydantic errors) that this service never sends."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _add_error_responses(original())
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _add_error_responses(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["ErrorBody"] = ErrorBody.model_json_schema()
    error_content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    default_422 = "#/components/schemas/HTTPValidationError"
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            codes: set[int] = set()
            if path.startswith(GUARDED_PREFIXES):
                codes |= {401, 503}
            if "requestBody" in operation:
                codes |= {400, 413, 422}
            if operation.get("parameters"):
                codes.add(422)
            if "{name}" in path:
                codes.add(404)
            responses = operation.setdefault("responses", {})
            for code in sorted(codes):
                responses.setdefault(str(code), {"description": _MEANING[code]})
            for code, response in responses.items():
                if not (code.isdigit() and int(code) >= 400):
                    continue
                content = response.get("content") or {}
                ref = content.get("application/json", {}).get("schema", {}).get("$ref")
                if not content or ref == default_422:
                    response["content"] = error_content
                if ref == default_422:
                    response["description"] = _MEANING[422]
    if default_422.rsplit("/", 1)[-1] in components and default_422 not in str(schema):
        del components["HTTPValidationError"]
        if "#/components/schemas/ValidationError" not in str(schema):
            components.pop("ValidationError", None)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) if parts else "body"


def validation_detail(exc: RequestValidationError) -> str:
    """One readable sentence out of pydantic's error list, naming each field."""
    messages = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        msg = str(err.get("msg", "invalid value"))
        if err.get("type") == "json_invalid":
            messages.append(f"the body is not valid JSON ({msg})")
        elif err.get("type") == "missing" and _field_name(loc) == "body":
            messages.append("the request needs a JSON body")
        else:
            messages.append(f"field '{_field_name(loc)}': {msg}")
    return "Invalid request: " + "; ".join(messages) + "."


# nginx's code for "the client closed the connection": recorded for aborted uploads, never a 5xx.
CLIENT_CLOSED = 499


def unreadable_body(cause: BaseException | None) -> str:
    """What was wrong with a request body that could not be read as JSON."""
    if isinstance(cause, RecursionError):
        return "The request body nests JSON too deeply (over about 1,000 levels): flatten it."
    if isinstance(cause, ValueError) and "digits" in str(cause):
        return (
            "The request body holds an integer with more than 4,300 digits: send a number of "
            "sensible size."
        )
    if isinstance(cause, UnicodeDecodeError):
        return "The request body could not be read: send JSON encoded as UTF-8."
    return f"The request body could not be read as JSON ({type(cause).__name__})."


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, Busy) else None
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        detail = exc.detail
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            # FastAPI's words for any failure while reading the body: say which one it was.
            if isinstance(exc.__cause__, ClientDisconnect):
                return Response(status_code=CLIENT_CLOSED)  # nobody is left to read it
            detail = unreadable_body(exc.__cause__)
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_detail(exc)}, status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # This handler runs outside the middlewares, so it takes the request id off the scope.
        request_id = request.scope.get("state", {}).get("request_id")
        log.exception(
            "unexpected error on %s %s",
            request.method,
            request.url.path,
            extra={"request_id": request_id},
        )
        return JSONResponse(
            {"detail": "Internal server error; the failure was logged."}, status_code=500
        )
