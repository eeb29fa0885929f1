"""What the client raises: bad input found before any request (`InputError`), an answer of the
server's with its status and `detail` (`ApiError` and one class per status family), a server that
could not be reached after the retries (`ConnectionFailed`), a download that does not verify
(`DownloadError`)."""

from __future__ import annotations

import httpx


class RnnganError(Exception):
    """Every error of rnngan.client."""


class InputError(RnnganError, ValueError):
    """Bad input, found before any request was sent (missing columns, duplicates, NaN, …)."""


class ConnectionFailed(RnnganError):
    """The server could not be reached (or the connection broke) on every try."""


class DownloadError(RnnganError):
    """A download whose bytes do not check out against the server's checksum or row count, or
    whose parts on disk belong to another request."""


class ApiError(RnnganError):
    """The server answered with an error; `detail` is its `{"detail": ...}` sentence."""

    def __init__(self, status_code: int, detail: str, method: str, path: str) -> None:
        self.status_code = status_code
        self.detail = detail
        self.method = method
        self.path = path
        super().__init__(f"{status_code} from {method} {path}: {detail}")


class BadRequest(ApiError):
    """400 or 422: the server refused the request's values."""


class Unauthorized(ApiError):
    """401: missing or wrong API key (pass `api_key=`)."""


class NotFound(ApiError):
    """404: no such model (or route: an older server)."""


class TooLarge(ApiError):
    """413: over one of the server's limits (`Client.limits()`)."""


class Unavailable(ApiError):
    """503 on every try: the server is loading its models or at capacity."""


class ServerError(ApiError):
    """Any other 5xx."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    404: NotFound,
    413: TooLarge,
    422: BadRequest,
    503: Unavailable,
}


def error_for(response: httpx.Response) -> ApiError:
    """The exception for an error response (its body must have been read)."""
    try:
        body = response.json()
        detail = body["detail"] if isinstance(body, dict) and "detail" in body else body
    except ValueError:
        detail = response.text[:500] or response.reason_phrase
    status = response.status_code
    kind = _BY_STATUS.get(status, ServerError if status >= 500 else BadRequest)
    request = response.request
    return kind(status, str(detail), request.method, request.url.path)
