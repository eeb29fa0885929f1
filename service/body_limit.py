"""The request body size limit, enforced before anything parses the body (a pure ASGI middleware).

A declared `Content-Length` over the limit is answered 413 without reading a byte; otherwise the
body is read here, counting bytes as they arrive (chunked uploads declare no length), and
handed to the app only once it is known to fit. Every route takes a JSON body that FastAPI
reads whole anyway, so holding it here costs nothing extra.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.responses import send_error


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._reject(
                send,
                f"The request body is {declared} bytes, over this service's limit of "
                f"{self.max_bytes} bytes.",
            )
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away mid-body
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_bytes:
                await self._reject(
                    send,
                    f"The request body is over this service's limit of {self.max_bytes} bytes.",
                )
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    async def _reject(self, send: Send, detail: str) -> None:
        await send_error(send, 413, detail, ((b"connection", b"close"),))


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers") or []:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server rejects a malformed length itself
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the app the whole body as one message, then defers to the server
    (which reports a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
