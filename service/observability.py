"""Prometheus metrics and request ids, as one pure ASGI middleware (streaming-safe).

Each request gets an id (the client's `X-Request-ID` if it sends one, else a fresh one), echoed
in the response headers and attached to every log line written while the request runs."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Callable, Container
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import CLIENT_CLOSED
from service.logging_setup import request_id_var

log = logging.getLogger("rnngan.access")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "rnngan_requests_total",
            "HTTP requests answered",
            ["route", "method", "status", "model"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "rnngan_request_duration_seconds",
            "Time to answer a request (whole stream)",
            ["route", "model"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.errors = Counter(
            "rnngan_errors_total",
            "Responses with status >= 400",
            ["route", "status", "model"],
            registry=self.registry,
        )
        self.rows = Counter(
            "rnngan_rows_generated_total",
            "Generated rows (series × steps)",
            ["route", "model"],
            registry=self.registry,
        )
        self.load_failures = Counter(
            "rnngan_model_load_failures_total",
            "Model versions refused at startup or on a reload",
            ["model"],
            registry=self.registry,
        )


class ObservabilityMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        served: Callable[[], Container[str]] = lambda: (),
    ) -> None:
        self.app = app
        self.metrics = metrics
        # Model labels are limited to served names: a client must not be able to grow the
        # metric series without bound by asking for made-up models.
        self.served = served

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        # A client's id is kept only when it is short and plain (no log or header injection).
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = {"code": 500}
        seen = {"response": False, "disconnect": False}
        started = time.perf_counter()
        token = request_id_var.set(request_id)

        async def receive_wrapper() -> Message:
            message = await receive()
            if message["type"] == "http.disconnect":
                seen["disconnect"] = True
            return message

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                seen["response"] = True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive_wrapper, send_wrapper)
        except asyncio.CancelledError:
            # Only the server cancels a request task, at the end of the shutdown grace period:
            # say so in one line instead of a traceback; the client sees a cut connection.
            log.warning(
                "%s %s cut short: the server stopped before it finished",
                scope["method"],
                scope["path"],
            )
            status["code"] = CLIENT_CLOSED if seen["disconnect"] else 503
        finally:
            if seen["disconnect"] and not seen["response"]:
                status["code"] = CLIENT_CLOSED  # the client left before an answer: not a 5xx
            elapsed = time.perf_counter() - started
            route: Any = scope.get("route")
            route_label = getattr(route, "path", None) or "unmatched"
            model = (scope.get("path_params") or {}).get("name", "")
            if model and model not in self.served():
                model = "unknown"
            code = str(status["code"])
            self.metrics.requests.labels(route_label, scope["method"], code, model).inc()
            self.metrics.latency.labels(route_label, model).observe(elapsed)
            if status["code"] >= 400:
                self.metrics.errors.labels(route_label, code, model).inc()
            log.info(
                "%s %s %s %.1fms",
                scope["method"],
                scope["path"],
                code,
                elapsed * 1000,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status["code"],
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            request_id_var.reset(token)
