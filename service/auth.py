"""API keys, checked by a pure ASGI middleware before the body is read: a client without a
valid key gets its 401 without the server reading, let alone parsing, what it sent."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from service.responses import send_error

# Routes that need a key when keys are configured; the probes, /metrics and the docs stay open.
GUARDED_PREFIXES = ("/v1/", "/admin/")


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def key_problem(digests: Sequence[bytes], authorization: str) -> str | None:
    """None when `authorization` carries one of the keys (or no keys are set), else why not."""
    if not digests:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return "This route needs an API key: send 'Authorization: Bearer <key>'."
    candidate = digest(token.strip())
    # Compare against every key, in constant time, without stopping at the first match.
    ok = False
    for known in digests:
        ok |= hmac.compare_digest(candidate, known)
    return None if ok else "The API key is not valid."


class ApiKeyMiddleware:
    def __init__(self, app: ASGIApp, digests: Callable[[], Sequence[bytes]]) -> None:
        self.app = app
        self.digests = digests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(GUARDED_PREFIXES):
            await self.app(scope, receive, send)
            return
        header = b""
        for name, value in scope.get("headers") or []:
            if name == b"authorization":
                header = value
                break
        problem = key_problem(self.digests(), header.decode("latin-1"))
        if problem is None:
            await self.app(scope, receive, send)
            return
        await send_error(send, 401, problem, ((b"www-authenticate", b"Bearer"),))
