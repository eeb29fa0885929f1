"""`Client`: the rnngan HTTP API from Python, on httpx. Retries connection errors and 503 (waiting
what `Retry-After` says), never a 4xx; every error answer becomes an exception carrying the
server's `detail` (rnngan/client/errors.py). Frames in and out: rnngan/client/forecast.py
(`forecast`), rnngan/client/download.py (`sample`, `download`).

    from rnngan.client import Client

    with Client("http://localhost:8000") as client:
        fc = client.forecast("etth1_ot", panel, h=24, level=[80, 95])
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, fields
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import httpx
from pydantic import ValidationError

from rnngan import __version__
from rnngan.client.errors import ConnectionFailed, NotFound, error_for
from rnngan.core.manifest import Manifest

if TYPE_CHECKING:
    import pandas as pd

    from rnngan.client.download import DownloadSummary

log = logging.getLogger("rnngan.client")


@dataclass(frozen=True)
class ModelInfo:
    """One row of `GET /v1/models`."""

    name: str
    version: int
    task: str
    features: list[str]


@dataclass(frozen=True)
class Limits:
    """The server's request limits (`GET /v1/limits`); the defaults are the service's own, used
    against a server too old to say."""

    max_sample_values: int = 2_000_000
    max_dataset_rows: int = 100_000_000
    max_length: int = 10_000
    max_forecast_series: int = 256
    max_history: int = 100_000
    max_num_samples: int = 2000
    max_forecast_values: int = 4_000_000
    max_quantiles: int = 99
    max_images: int = 1024
    max_body_bytes: int = 8 * 1024 * 1024


class Client:
    """A connection to one rnngan server; thread-safe, and a context manager (closes its pool).

    `retries`: extra tries after a connection error or a 503 (waits `backoff_s` × 2^try, or the
    `Retry-After` the server sent, at most `max_wait_s`); never after a 4xx, nor after a request
    that timed out waiting for its answer (`timeout`, seconds); `concurrency`: requests in flight
    at once when a forecast panel is split."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        max_wait_s: float = 60.0,
        concurrency: int = 4,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if retries < 0 or concurrency < 1:
            raise ValueError("retries must be >= 0 and concurrency >= 1")
        headers = {"User-Agent": f"rnngan-client/{__version__}"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_wait_s = max_wait_s
        self.concurrency = concurrency
        self._sleep: Callable[[float], None] = time.sleep
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout),
            transport=transport,
            limits=httpx.Limits(max_connections=max(16, 2 * concurrency)),
        )
        self._limits: Limits | None = None

    # --- plumbing ---

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _wait(self, attempt: int, response: httpx.Response | None = None) -> float:
        """Seconds before try `attempt + 1`: the server's Retry-After, else exponential."""
        wait = self.backoff_s * 2**attempt
        header = response.headers.get("retry-after") if response is not None else None
        if header:
            try:
                wait = float(header)
            except ValueError:
                try:
                    wait = parsedate_to_datetime(header).timestamp() - time.time()
                except (TypeError, ValueError):
                    pass
        return min(max(wait, 0.0), self.max_wait_s)

    def _gave_up(
        self, method: str, path: str, exc: httpx.TransportError, attempt: int
    ) -> ConnectionFailed:
        return ConnectionFailed(
            f"{method} {self.base_url}{path}: {type(exc).__name__}: {exc} "
            f"(tried {attempt + 1} times)"
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One API call with the retry policy; raises the ApiError of an error answer."""
        for attempt in range(self.retries + 1):
            try:
                response = self._http.request(method, path, json=json, headers=headers)
            except (httpx.ReadTimeout, httpx.WriteTimeout) as exc:
                raise ConnectionFailed(
                    f"{method} {self.base_url}{path}: no answer within {self.timeout_s:g} s (not "
                    "retried: the server may still be working on it); pass a larger timeout="
                ) from exc
            except httpx.TransportError as exc:
                if attempt >= self.retries:
                    raise self._gave_up(method, path, exc, attempt) from exc
                self._sleep(self._wait(attempt))
                continue
            if response.status_code == 503 and attempt < self.retries:
                log.info("503 from %s %s; retrying", method, path)
                self._sleep(self._wait(attempt, response))
                continue
            if response.status_code >= 400:
                raise error_for(response)
            return response
        raise AssertionError("unreachable")

    @contextmanager
    def stream(
        self, method: str, path: str, *, json: Any = None, headers: dict[str, str] | None = None
    ) -> Iterator[httpx.Response]:
        """A streamed call: opening it follows the retry policy; a break while reading the
        body is the caller's to handle (httpx.TransportError)."""
        for attempt in range(self.retries + 1):
            with ExitStack() as stack:
                try:
                    response = stack.enter_context(
                        self._http.stream(method, path, json=json, headers=headers)
                    )
                except httpx.TransportError as exc:
                    if attempt >= self.retries:
                        raise self._gave_up(method, path, exc, attempt) from exc
                    self._sleep(self._wait(attempt))
                    continue
                if response.status_code >= 400:
                    response.read()
                    if response.status_code == 503 and attempt < self.retries:
                        self._sleep(self._wait(attempt, response))
                        continue
                    raise error_for(response)
                yield response
                return

    # --- models ---

    def models(self) -> list[ModelInfo]:
        """The served models (name, version, task, features)."""
        body = self.request("GET", "/v1/models").json()
        return [ModelInfo(**m) for m in body["models"]]

    def model(self, name: str) -> Manifest:
        """A model's manifest, typed (rnngan.core.manifest.Manifest). Fields a newer server adds
        are left out rather than refused."""
        return parse_manifest(self.request("GET", f"/v1/models/{name}").json())

    def limits(self) -> Limits:
        """The server's request limits (fetched once); the service defaults for an older server."""
        if self._limits is None:
            try:
                body = self.request("GET", "/v1/limits").json()
            except NotFound:
                self._limits = Limits()
            else:
                known = {f.name for f in fields(Limits)}
                self._limits = Limits(**{k: int(v) for k, v in body.items() if k in known})
        return self._limits

    # --- frames (rnngan/client/forecast.py, rnngan/client/download.py) ---

    @overload
    def forecast(
        self,
        name: str,
        df: pd.DataFrame,
        h: int | None = ...,
        *,
        return_samples: Literal[False] = ...,
        **options: Any,
    ) -> pd.DataFrame: ...

    @overload
    def forecast(
        self,
        name: str,
        df: pd.DataFrame,
        h: int | None = ...,
        *,
        return_samples: Literal[True],
        **options: Any,
    ) -> tuple[pd.DataFrame, pd.DataFrame]: ...

    def forecast(
        self,
        name: str,
        df: pd.DataFrame,
        h: int | None = None,
        *,
        return_samples: bool = False,
        **options: Any,
    ) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
        """Forecast every series of a long frame (`unique_id, ds, y`); see
        `rnngan.client.forecast.forecast` for the options (level, quantiles, num_samples,
        seed, X_df, static_df, freq, column names)."""
        from rnngan.client.forecast import forecast

        return forecast(self, name, df, h, return_samples=return_samples, **options)

    def sample(
        self,
        name: str,
        n: int = 1,
        length: int | None = None,
        seed: int = 0,
        *,
        condition: dict[str, Any] | None = None,
        start: str | float | None = None,
        impute: bool = False,
        offset: int = 0,
    ) -> pd.DataFrame:
        """Synthetic series as a frame in the model's layout: `series_id, step, <features>`, or
        a table model's own columns (the rows of `/datasets`, any `n`)."""
        from rnngan.client.download import sample

        return sample(
            self,
            name,
            n=n,
            length=length,
            seed=seed,
            condition=condition,
            start=start,
            impute=impute,
            offset=offset,
        )

    def download(
        self,
        name: str,
        path: str | Path,
        n: int,
        length: int | None = None,
        seed: int = 0,
        format: Literal["csv", "parquet", "ndjson"] = "csv",
        *,
        shards: int = 4,
        workers: int | None = None,
        resume: bool = True,
        progress: bool = True,
        **options: Any,
    ) -> DownloadSummary:
        """A bulk data set in `shards` parallel requests by `offset`, each verified, resumable;
        see `rnngan.client.download.download`."""
        from rnngan.client.download import download

        return download(
            self,
            name,
            Path(path),
            n=n,
            length=length,
            seed=seed,
            format=format,
            shards=shards,
            workers=workers,
            resume=resume,
            progress=progress,
            **options,
        )


def parse_manifest(data: dict[str, Any]) -> Manifest:
    """`Manifest` of a server's JSON; keys this version does not know (a newer server's
    additions) are dropped with a debug line instead of failing the strict model."""
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        extra = [e["loc"] for e in errors if e["type"] == "extra_forbidden"]
        if not extra or len(extra) != len(errors):
            raise
    pruned = copy.deepcopy(data)
    for loc in extra:
        _drop(pruned, loc)
    log.debug("manifest fields unknown to this client, ignored: %s", extra)
    return Manifest.model_validate(pruned)


def _drop(data: Any, loc: Sequence[int | str]) -> None:
    for key in loc[:-1]:
        data = data[key]
    data.pop(loc[-1], None)
