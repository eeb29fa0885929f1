"""End to end: a real `rnngan serve` process on a free port with the shipped models, every
route over HTTP, and every curl example of the README run as written against it."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import MODELS, REPO, SHIPPED
from tests.helpers.server import start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("server") / "server.log"
    with start_server(MODELS, log_path=log) as served:
        yield served.base
    # `rnngan serve` drains in-flight requests on SIGTERM and exits 0.
    assert served.returncode == 0, log.read_text()[-2000:]


def test_e2e_every_route(server: str) -> None:
    with httpx.Client(base_url=server, timeout=30) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        ready = c.get("/readyz").json()
        assert ready["status"] == "ready" and "CPUExecutionProvider" in ready["providers"]
        assert [m["name"] for m in c.get("/v1/models").json()["models"]] == sorted(SHIPPED)
        assert c.get("/v1/models/sines").json()["seq_len"] == 24
        assert c.get("/v1/models/nope").status_code == 404
        samples = c.post("/v1/models/sines/samples", json={"n": 2, "length": 24, "seed": 1})
        assert samples.status_code == 200 and len(samples.json()["samples"]) == 2
        with c.stream(
            "POST",
            "/v1/models/sines/datasets",
            json={"n": 5000, "length": 24, "seed": 1, "format": "csv"},
        ) as r:
            assert r.status_code == 200
            body = b"".join(r.iter_bytes())
        assert body.count(b"\n") == 1 + 5000 * 24
        history = [20.0 + (i % 24) / 4 for i in range(200)]
        fc = c.post(
            "/v1/models/etth1_ot/forecast",
            json={"series": [{"id": "a", "values": history}], "num_samples": 100},
        )
        assert fc.status_code == 200 and len(fc.json()["forecasts"][0]["mean"]) == 24
        bad = c.post(
            "/v1/models/etth1_ot/forecast", json={"series": [{"id": "a", "values": [1.0]}]}
        )
        assert bad.status_code == 422
        assert bad.json() == {
            "detail": "series 'a': history has 1 values; this model needs at least 168."
        }
        metrics = c.get("/metrics").text
        assert 'route="/v1/models/{name}/forecast",status="422"' in metrics
        assert c.get("/docs").status_code == 200


def _model_of(command: str) -> str | None:
    match = re.search(r"/v1/models/([a-z0-9_\-]+)", command)
    return match.group(1) if match else None


def _readme_curls() -> list[str]:
    """Shell lines of the README's code blocks that call curl (continuations joined)."""
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh|console)\n(.*?)```", text, flags=re.S)
    commands = []
    for block in blocks:
        joined = block.replace("\\\n", " ")
        commands += [line.strip() for line in joined.splitlines() if "curl " in line]
    return commands


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_e2e_readme_curl_examples_work(server: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    commands = _readme_curls()
    assert len(commands) >= 8, "the README shows a curl example for every route"
    # The own-table walkthrough's lines call a model the reader trains first (not shipped);
    # the same request bodies are exercised in tests/training/test_table.py (stores) and
    # tests/service/test_forecast_covariates.py (promo).
    walkthrough = [c for c in commands if _model_of(c) not in (None, *SHIPPED)]
    assert all(_model_of(c) in ("stores", "promo") for c in walkthrough), walkthrough
    for command in (c for c in commands if c not in walkthrough):
        line = command.replace("http://localhost:8000", server)
        line = line.replace("curl ", "curl -sS --fail-with-body ", 1)
        result = subprocess.run(
            ["bash", "-o", "pipefail", "-c", line], cwd=tmp_path, capture_output=True, timeout=60
        )
        assert result.returncode == 0, f"{command}\n{result.stdout[-500:]!r}{result.stderr!r}"
