"""The uvicorn server `rnngan serve` runs: uvicorn's, except that a shutdown answers the requests
that had already reached the machine.

uvicorn's shutdown closes the listening socket at once, then every connection that has no request
in progress. A connection the kernel had accepted but the event loop had not yet taken in (it waits
in the listen backlog), or one whose request bytes had arrived but were not yet read, is closed
unanswered: the client, which had sent its request before the SIGTERM, gets a reset. A busy
machine widens that window (the process is not scheduled while requests arrive), and a rolling
deploy sends SIGTERM while traffic flows, so requests were lost. Here the server first goes on
listening and reading for `SETTLE_S` seconds, long enough for the event loop to take in what
waits, so those requests are in progress (and drained) when uvicorn's shutdown runs.

The module imports uvicorn; only `rnngan serve` imports it, and only for one worker (the
default): with `--workers N` uvicorn's process manager builds its own server in each worker.
"""

from __future__ import annotations

import asyncio
import socket

import uvicorn

SETTLE_S = 0.25  # seconds of listening and reading after SIGTERM, before uvicorn's shutdown


class DrainingServer(uvicorn.Server):
    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await asyncio.sleep(SETTLE_S)
        await super().shutdown(sockets)
