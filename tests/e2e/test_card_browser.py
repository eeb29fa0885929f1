"""The model card in a real browser: a live `rnngan serve`, the card rendered by headless
Chromium (`--dump-dom` for the DOM after layout, `--screenshot` for the pixels). Skipped where no
Chromium is installed (Debian: `apt-get install chromium`; `.ci/run` installs it when it can)."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import MODELS, SHIPPED
from tests.helpers.server import start_server

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM = os.environ.get("RNNGAN_CHROMIUM") or next(
    (path for name in CANDIDATES if (path := shutil.which(name))), None
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no headless Chromium installed (Debian: apt-get install chromium; or set "
    "RNNGAN_CHROMIUM to its path)",
)
WIDTH, HEIGHT = 1000, 1800
# The card's chart colours (service/svg.py) and the digit grid's padding grey.
BLUE, RED, GREY = (9, 105, 218), (207, 34, 46), (128, 128, 128)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with start_server(MODELS) as served:
        yield served.base


def _chromium(tmp_path: Path, *args: str) -> str:
    assert CHROMIUM is not None
    out = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--window-size={WIDTH},{HEIGHT}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return out.stdout


def _pixels(png: Path) -> np.ndarray:
    """(H × W, 3) RGB values of a screenshot of the window's size."""
    image = pytest.importorskip("PIL.Image", reason="Pillow reads the screenshot").open(png)
    assert image.size == (WIDTH, HEIGHT)
    return np.asarray(image.convert("RGB")).reshape(-1, 3)


def _count(pixels: np.ndarray, colour: tuple[int, int, int]) -> int:
    return int((pixels == colour).all(axis=1).sum())


@pytest.mark.parametrize(
    ("name", "verdict", "svgs", "imgs", "colour"),
    [
        # score bars + 4 panels of drawn series, and the training run's projection picture
        ("sines", "FAIL: 1 of 23 quality checks fail", 5, 1, BLUE),
        ("digits", "PASS: every target met", 0, 1, GREY),  # the digit grid
    ],
)
def test_card_renders_in_chromium(
    server: str,
    tmp_path: Path,
    name: str,
    verdict: str,
    svgs: int,
    imgs: int,
    colour: tuple[int, int, int],
) -> None:
    url = f"{server}/v1/models/{name}/card"
    dom = _chromium(tmp_path, "--dump-dom", url)
    assert f"<title>{name} v{SHIPPED[name]}: model card</title>" in dom
    shown = re.search(r'<p class="verdict \w+" id="verdict">([^<]*)</p>', dom)
    assert shown is not None and html.unescape(shown.group(1)).startswith(verdict)
    assert len(re.findall(r"<svg\b", dom)) == svgs
    assert len(re.findall(r'<img [^>]*src="data:image/png;base64,', dom)) == imgs
    assert "<h2>How to call it</h2>" in dom and f"/v1/models/{name}/" in dom

    shot = tmp_path / f"{name}.png"
    _chromium(tmp_path, f"--screenshot={shot}", url)
    pixels = _pixels(shot)
    assert _count(pixels, (255, 255, 255)) < 0.95 * len(pixels)  # not blank
    # What only the charts or the picture paint: many pixels of exactly their colour.
    assert _count(pixels, colour) > 2000
    if name == "sines":
        assert _count(pixels, RED) > 2000  # the real floors' bars and a drawn series
    keep = os.environ.get("RNNGAN_CARD_SCREENSHOTS")
    if keep:
        shutil.copy(shot, Path(keep) / shot.name)
