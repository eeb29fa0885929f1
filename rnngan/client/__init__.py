"""The rnngan HTTP API from Python, with pandas frames in and out (the serving install; no torch).

    from rnngan.client import Client

    with Client("http://localhost:8000", api_key=None) as client:
        client.models()                                   # [ModelInfo(name, version, task, ...)]
        client.model("etth1_ot")                          # the manifest, typed
        fc = client.forecast("etth1_ot", df, h=24, level=[80, 95])
        # fc: unique_id, ds, etth1_ot, etth1_ot-lo-95, etth1_ot-lo-80, etth1_ot-hi-80, ...
        client.sample("sines", n=8, seed=1)               # series_id, step, <features>
        client.download("sines", "sines.csv", n=1_000_000, seed=1, shards=4)

`http.py` holds the client and its retry policy, `forecast.py` the frame checks and the
forecast split, `download.py` sampling and the sharded, verified, resumable download.
"""

from __future__ import annotations

from rnngan.client.download import DownloadSummary
from rnngan.client.errors import (
    ApiError,
    BadRequest,
    ConnectionFailed,
    DownloadError,
    InputError,
    NotFound,
    RnnganError,
    ServerError,
    TooLarge,
    Unauthorized,
    Unavailable,
)
from rnngan.client.http import Client, Limits, ModelInfo

__all__ = [
    "ApiError",
    "BadRequest",
    "Client",
    "ConnectionFailed",
    "DownloadError",
    "DownloadSummary",
    "InputError",
    "Limits",
    "ModelInfo",
    "NotFound",
    "RnnganError",
    "ServerError",
    "TooLarge",
    "Unauthorized",
    "Unavailable",
]
