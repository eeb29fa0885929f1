"""Log records as JSON lines (or plain text), each tagged with the request id it belongs to.

`configure_logging` installs one handler on the root logger and routes uvicorn's loggers through
it, so `rnngan serve` and `uvicorn service.main:create_app --factory` log the same way. It is
idempotent: calling it again replaces only its own handler (pytest's capture handlers stay).
Request headers are never logged, so API keys cannot leak into the logs.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

# Set by the observability middleware for the duration of a request; copied into threadpool
# calls with the rest of the context, so route code logs with the right id too.
request_id_var: ContextVar[str | None] = ContextVar("rnngan_request_id", default=None)

# Extra attributes a record may carry (`log.info(..., extra={...})`) that JSON lines keep.
EXTRA_FIELDS = ("method", "path", "status", "duration_ms", "model", "version", "reason")
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id (in a request)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        for key in EXTRA_FIELDS:
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        return f"{line} request_id={request_id}" if request_id else line


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stderr` is at the time (test runners swap it)."""

    _rnngan = True

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def configure_logging(log_format: str = "json", level: str = "info") -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_rnngan", False):
            root.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # The observability middleware writes one access line per request, with its request id.
    logging.getLogger("uvicorn.access").disabled = True
