"""Prometheus metrics and request ids, as one pure ASGI middleware (streaming-safe)."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("rnngan.access")


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
            "Model versions refused at load",
            ["model"],
            registry=self.registry,
        )


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:64] or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = {"code": 500}
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route: Any = scope.get("route")
            route_label = getattr(route, "path", None) or "unmatched"
            model = (scope.get("path_params") or {}).get("name", "")
            code = str(status["code"])
            self.metrics.requests.labels(route_label, scope["method"], code, model).inc()
            self.metrics.latency.labels(route_label, model).observe(elapsed)
            if status["code"] >= 400:
                self.metrics.errors.labels(route_label, code, model).inc()
            log.info(
                "%s %s %s %.1fms request_id=%s",
                scope["method"],
                scope["path"],
                code,
                elapsed * 1000,
                request_id,
            )
