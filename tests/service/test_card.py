"""GET /v1/models/{name}/card: a self-contained HTML page per model (service/card.py)."""

from __future__ import annotations

import base64
import html
import json
import re
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from rnngan.core.images import encode_png
from service.config import Settings
from service.errors import InvalidInput
from service.main import create_app
from tests.conftest import MODELS, SHIPPED


def _card(client: TestClient, name: str) -> str:
    r = client.get(f"/v1/models/{name}/card")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    return r.text


def _self_contained(page: str) -> None:
    """No script, stylesheet link, frame or fetched resource: every src is a data: URI."""
    assert not re.search(r"<(script|link|iframe|object|embed)\b", page, re.I)
    assert all(
        src.startswith("data:image/png;base64,") for src in re.findall(r"src='([^']*)'", page)
    )
    assert "url(" not in page and "@import" not in page
    assert re.findall(r"href='([^']*)'", page) and all(
        h.startswith("/") for h in re.findall(r"href='([^']*)'", page)
    )


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_card_generate_model(client: TestClient) -> None:
    page = _card(client, "sines")
    _self_contained(page)
    v = SHIPPED["sines"]
    assert f"<title>sines v{v}: model card</title>" in page
    assert "<tr><th>family</th><td>TimeGAN</td></tr>" in page
    assert "<tr><th>features (5)</th><td>sine_1, sine_2, sine_3, sine_4, sine_5</td></tr>" in page
    assert "<tr><th>training windows</th><td>10,000</td></tr>" in page
    # The stored verdict, as rnngan evaluate wrote it (etth1_ot, exported before verdicts
    # existed, says NO VERDICT STORED instead: the next test).
    assert "<p class='verdict fail' id='verdict'>FAIL: 1 of 23 quality checks fail" in page
    # ... and the shipped model's scores, as its manifest stores them.
    metrics = json.loads((MODELS / "sines" / str(v) / "manifest.json").read_text())["metrics"]
    disc, floor = metrics["discriminative"]["mean"], metrics["discriminative_real_floor"]["mean"]
    assert f"Discriminative score {disc:.4g} (real-vs-real floor {floor:.4g};" in page
    # Scores beside their floors, then 4 panels of drawn series in the data's units.
    assert page.count("<svg ") == 5
    assert "Scores beside the real-vs-real floor" in page
    assert page.count("<polyline ") == 4 * 3
    assert "/samples: n × length × features ≤ 2,000,000 (at length 24: n ≤ 16,666)" in page
    assert "curl -X POST -H &#x27;Content-Type: application/json&#x27; " in page
    assert "http://testserver/v1/models/sines/samples -d" in page


def test_card_forecast_model_in_the_data_units(client: TestClient) -> None:
    page = _card(client, "etth1_ot")
    v = SHIPPED["etth1_ot"]
    metrics = json.loads((MODELS / "etth1_ot" / str(v) / "manifest.json").read_text())["metrics"]
    # The stored verdict, as rnngan evaluate wrote it: a pass, its interval in range.
    line = metrics["verdict"]["line"]
    assert line.startswith("beats the seasonal naive: MASE ratio 0.759")
    assert f"<p class='verdict pass' id='verdict'>{line}</p>" in page
    _self_contained(page)
    assert "<tr><th>history read (context_len)</th><td>168</td></tr>" in page
    assert "<tr><th>shortest history taken (min_history)</th><td>168</td></tr>" in page
    assert "<tr><th>frequency</th><td>h</td></tr>" in page
    assert "<tr><th>training rows</th><td>[0, 8640)</td></tr>" in page
    gan, naive = metrics["test"]["gan"]["mase"], metrics["test"]["seasonal_naive"]["mase"]
    assert (gan, naive) == (pytest.approx(0.4539, abs=5e-5), pytest.approx(0.5979, abs=5e-5))
    assert "MASE 0.4539 beats the seasonal naive&#x27;s 0.5979" in page
    # MASE x scale = MAE in degrees: 0.4539 x 2.553 = 1.159.
    assert "Test error in the data&#x27;s units (OT; lower is better)" in page
    assert f"{gan * metrics['scale']:.3f}" == "1.159" and ">1.159</text>" in page
    assert "horizon ≤ 24; history ≥ 168 and ≤ 100,000 values" in page
    assert "for i in range(168)" in page and "/v1/models/etth1_ot/forecast -d @-" in page


def test_card_without_a_stored_verdict_says_so(models_copy: Path) -> None:
    """A model exported before verdicts existed (no report.json): the card says so rather
    than inventing one."""
    from service.config import Settings
    from service.main import create_app

    version = models_copy / "etth1_ot" / str(SHIPPED["etth1_ot"])
    (version / "report.json").unlink()
    manifest = json.loads((version / "manifest.json").read_text())
    del manifest["metrics"]["verdict"]
    (version / "manifest.json").write_text(json.dumps(manifest, indent=2))
    settings = Settings(models_dir=models_copy, reload_interval_s=0, _env_file=None)  # type: ignore[call-arg]
    with TestClient(create_app(settings)) as fresh:
        page = _card(fresh, "etth1_ot")
    assert "<p class='verdict none' id='verdict'>NO VERDICT STORED" in page


@pytest.mark.parametrize(
    "warning",
    [{"few_windows": True}, {"warnings": ["80 % coverage 0.74 outside 0.75–0.85"]}],
)
def test_card_shows_a_pass_with_warnings_as_a_warning(
    models_copy: Path, warning: dict[str, Any]
) -> None:
    """A forecaster whose verdict passed with warnings (`warnings`: too few test windows to be
    firm, coverage off 0.80; or `few_windows` alone, training/evaluate/versus.py): the card's
    verdict is a warning, not a pass."""
    version = models_copy / "etth1_ot" / str(SHIPPED["etth1_ot"])
    for name in ("report.json", "manifest.json"):
        doc = json.loads((version / name).read_text())
        stored = doc["verdict"] if name == "report.json" else doc["metrics"]["verdict"]
        assert stored["passed"]
        stored.update(warning, line="beats the seasonal naive: ...; only 7 test windows")
        (version / name).write_text(json.dumps(doc, indent=2))
    settings = Settings(models_dir=models_copy, reload_interval_s=0, _env_file=None)  # type: ignore[call-arg]
    with TestClient(create_app(settings)) as fresh:
        page = _card(fresh, "etth1_ot")
    assert "<p class='verdict warn' id='verdict'>beats the seasonal naive: ...; only 7" in page
    assert ".warn{" in page


@pytest.mark.parametrize(
    ("coverage", "css", "said"),
    [(0.8, "pass", None), (0.9, "warn", "a warning today"), (0.5, "fail", "FAIL today")],
)
def test_card_judges_an_older_forecast_verdict_by_the_coverage_rule(
    models_copy: Path, coverage: float, css: str, said: str | None
) -> None:
    """A passed forecast verdict stored before the verdict judged the 80 % interval: the card
    applies the rule to the stored coverage; a verdict that carries `coverage_80` is as stored."""
    from service import card_quality
    from training.evaluate import versus

    assert card_quality.COVERAGE_RANGE == versus.COVERAGE_RANGE
    assert card_quality.COVERAGE_FAR == versus.COVERAGE_FAR
    version = models_copy / "etth1_ot" / str(SHIPPED["etth1_ot"])
    for name in ("report.json", "manifest.json"):  # a verdict stored before the rule
        doc = json.loads((version / name).read_text())
        stored = doc["verdict"] if name == "report.json" else doc["metrics"]["verdict"]
        for key in ("coverage_80", "coverage_in_range", "warnings"):
            del stored[key]
        (version / name).write_text(json.dumps(doc, indent=2))
    manifest = json.loads((version / "manifest.json").read_text())
    manifest["metrics"]["vs_seasonal_naive"]["gan"]["coverage_80"] = coverage
    (version / "manifest.json").write_text(json.dumps(manifest, indent=2))
    settings = Settings(models_dir=models_copy, reload_interval_s=0, _env_file=None)  # type: ignore[call-arg]
    with TestClient(create_app(settings)) as fresh:
        page = _card(fresh, "etth1_ot")
    assert f"<p class='verdict {css}' id='verdict'>beats the seasonal naive" in page
    assert (said is None) == (" today: 80 % coverage" not in page)
    if said:
        assert f"{said}: 80 % coverage {coverage:.3f}" in page
    # a verdict written under the rule is shown as stored
    report = json.loads((version / "report.json").read_text())
    report["verdict"]["coverage_80"] = coverage
    (version / "report.json").write_text(json.dumps(report, indent=2))
    with TestClient(create_app(settings)) as fresh:
        page = _card(fresh, "etth1_ot")
    assert "<p class='verdict pass' id='verdict'>beats the seasonal naive" in page


def test_card_image_model_draws_a_grid(client: TestClient) -> None:
    page = _card(client, "digits")
    _self_contained(page)
    assert "<p class='verdict pass' id='verdict'>PASS: every target met</p>" in page
    assert "<tr><th>images</th><td>8 × 8 pixels, 0 … 16</td></tr>" in page
    (grid,) = re.findall(r"src='data:image/png;base64,([^']*)'", page)
    # 10 images a row, 2 rows, each 8 pixels + 1 of padding, 6 screen pixels per pixel.
    assert _png_size(base64.b64decode(grid)) == ((10 * 9 + 1) * 6, (2 * 9 + 1) * 6)
    assert "≤ 1,024 images per /images request" in page
    assert "&quot;label&quot;: 3" in page


def test_card_table_model_shows_its_report_and_no_private_path(table_client: TestClient) -> None:
    page = _card(table_client, "tiny_stores")
    _self_contained(page)
    assert "private-data" not in page and "/srv/" not in page  # the manifest's data path
    assert "<tr><th>source</th><td>stores.csv</td></tr>" in page
    # Its stored verdict suspects collapse (it was exported with --force): the card says so first.
    assert (
        "<p class='verdict fail' id='verdict'>COLLAPSE SUSPECTED (exported with --force). "
        "FAIL: 12 of 19 quality checks fail" in page
    )
    assert page.count("<b>FAIL</b>") == 12
    # mean ± std, real vs synthetic, per numeric column in its own units; the run's projection.
    for column in ("humidity (bounded)", "size (count)", "visitors (count)"):
        assert f"<title>{column}</title>" in page
    assert "From the training run: report.html, picture 1" in page
    assert "/v1/models/tiny_stores/report" in page


def test_card_embeds_pictures_left_beside_the_manifest(with_table_models: Path) -> None:
    picture = encode_png(np.arange(64, dtype=np.uint8).reshape(8, 8))
    target = with_table_models / "sines" / str(SHIPPED["sines"]) / "windows.png"
    target.write_bytes(picture)
    try:
        settings = Settings(models_dir=with_table_models, reload_interval_s=0, _env_file=None)  # type: ignore[call-arg]
        app = create_app(settings)
        with TestClient(app) as c:
            page = _card(c, "sines")
    finally:
        target.unlink()
    encoded = base64.b64encode(picture).decode()
    assert f"src='data:image/png;base64,{encoded}'" in page
    assert "From the training run: windows.png" in page


def test_card_unknown_model_is_404(client: TestClient) -> None:
    r = client.get("/v1/models/nope/card")
    assert r.status_code == 404
    assert r.json() == {"detail": f"Model 'nope' not found; served models: {', '.join(SHIPPED)}."}


def test_model_manifest_links_its_card(client: TestClient) -> None:
    r = client.get("/v1/models/sines")
    assert r.headers["link"] == '</v1/models/sines/card>; rel="describedby"; type="text/html"'


def _forecast_command(page: str) -> tuple[str, str]:
    """The card's forecast line: (the python program that prints the body, the URL path)."""
    text = html.unescape(page)
    match = re.search(r"python3 -c '([^']*)' \| curl .* http://testserver(\S+) -d @-", text)
    assert match is not None
    return match.group(1), match.group(2)


def test_card_forecast_curl_line_works(table_client: TestClient) -> None:
    """The card's forecast line, run as written (its body printed by python, then posted), on a
    forecaster without and one with covariates (timestamps, a known-future column)."""
    for name in ("etth1_ot", "tiny_promo"):
        page = _card(table_client, name)
        program, path = _forecast_command(page)
        body = subprocess.run(
            [sys.executable, "-c", program], capture_output=True, text=True, check=True
        ).stdout
        r = table_client.post(path, content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 200, (name, r.text)
    assert (
        "<tr><th>covariates</th><td>calendar: hour, weekday; known-future columns: promo</td>"
        in page
    )


def test_card_still_renders_when_the_model_cannot_draw(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import service.inference

    def refuse(*args: object, **kwargs: object) -> None:
        raise InvalidInput("Model 'sines' produced non-finite values for this request.")

    monkeypatch.setattr(service.inference, "generate", refuse)
    page = _card(client, "sines")
    assert "<p>No outputs drawn here: Model &#x27;sines&#x27; produced non-finite values" in page
    assert page.count("<svg ") == 1  # the scores are still there
