"""POST /v1/models/{name}/images and /datasets for image models, against the shipped digits
models (models/digits: label; models/digits_text: text): formats, units, determinism, and
every 413/422."""

from __future__ import annotations

import io
import json
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from rnngan.cli import app as cli_app
from service.config import Settings
from service.main import create_app
from tests.conftest import MODELS, SHIPPED

pytestmark = pytest.mark.skipif(
    not {"digits", "digits_text"} <= set(SHIPPED), reason="the digits models are not shipped"
)
LABEL, TEXT = "/v1/models/digits/images", "/v1/models/digits_text/images"


def _png_size_and_pixels(data: bytes) -> tuple[int, int, np.ndarray]:
    """Width, height and the 8-bit grayscale pixels of a PNG (filter type 0 rows only)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert (depth, color) == (8, 0)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, width + 1)
    assert (rows[:, 0] == 0).all()
    return width, height, rows[:, 1:]


def test_images_prompt_png_decodes_to_the_grid_size(client: TestClient) -> None:
    r = client.post(TEXT, json={"n": 10, "seed": 3, "prompt": "a handwritten seven"})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert "x-unknown-words" not in r.headers
    width, height, pixels = _png_size_and_pixels(r.content)
    # 8 images a row (2 rows), 8x8 pixels + 1 border each, every pixel 8x8 on screen.
    assert (width, height) == ((8 * 9 + 1) * 8, (2 * 9 + 1) * 8)
    assert pixels.shape == (height, width) and pixels.max() == 255


def test_images_json_in_pixel_units_and_npy_round_trip(client: TestClient) -> None:
    body = {"n": 5, "seed": 1, "label": 4}
    as_json = client.post(LABEL, json={**body, "format": "json"})
    assert as_json.status_code == 200
    out = as_json.json()
    assert (out["model"], out["version"], out["labels"]) == ("digits", SHIPPED["digits"], [4] * 5)
    images = np.asarray(out["images"])
    assert images.shape == (5, 8, 8) and images.min() >= 0 and images.max() <= 16
    assert images.dtype.kind == "i" and images.max() >= 8  # ink, in 0..16 units
    as_npy = client.post(LABEL, json={**body, "format": "npy"})
    assert as_npy.headers["content-type"] == "application/octet-stream"
    array = np.load(io.BytesIO(as_npy.content), allow_pickle=False)
    assert array.dtype == np.uint8 and (array == images).all()


def test_images_same_seed_same_bytes(client: TestClient) -> None:
    body = {"n": 6, "seed": 11, "prompt": "the digit 3", "format": "npy"}
    first, again = client.post(TEXT, json=body), client.post(TEXT, json=body)
    other = client.post(TEXT, json={**body, "seed": 12})
    assert first.content == again.content and first.content != other.content
    # Image i depends on (seed, i) only: the first 3 of 6 are the 3 of a smaller request.
    small = client.post(TEXT, json={**body, "n": 3, "format": "json"}).json()["images"]
    whole = np.load(io.BytesIO(first.content))
    assert (whole[:3] == np.asarray(small)).all()


def test_images_label_default_cycles_the_classes(client: TestClient) -> None:
    out = client.post(LABEL, json={"n": 12, "format": "json"}).json()
    assert out["labels"] == [i % 10 for i in range(12)]


def test_images_unknown_words_reported(client: TestClient) -> None:
    body = {"n": 2, "prompt": "a fluffy handwritten nine, please"}
    png = client.post(TEXT, json=body)
    assert png.status_code == 200 and png.headers["x-unknown-words"] == "fluffy,please"
    out = client.post(TEXT, json={**body, "format": "json"}).json()
    assert out["unknown_words"] == ["fluffy", "please"] and out["prompt"] == body["prompt"]


@pytest.mark.parametrize(
    ("path", "body", "status", "detail"),
    [
        (
            TEXT,
            {"prompt": "   "},
            422,
            "'prompt' has no words: say what to draw, e.g. 'a handwritten two'.",
        ),
        (
            TEXT,
            {"prompt": "!!"},
            422,
            "'prompt' has no words: say what to draw, e.g. 'a handwritten two'.",
        ),
        (
            TEXT,
            {"prompt": " ".join(["seven"] * 13)},
            422,
            "'prompt' has 13 words; model 'digits_text' reads at most 12.",
        ),
        (
            TEXT,
            {},
            422,
            "model 'digits_text' draws from text: give a 'prompt', e.g. 'a handwritten nine'.",
        ),
        (
            TEXT,
            {"prompt": "a two", "label": 2},
            422,
            "model 'digits_text' is conditioned on text: give a prompt instead of 'label'.",
        ),
        (
            LABEL,
            {"prompt": "a two"},
            422,
            "model 'digits' is conditioned on label, not on text: drop 'prompt' and give 'label'.",
        ),
        (LABEL, {"label": 10}, 422, "label 10 is out of range: model 'digits' has classes 0 … 9."),
        (LABEL, {"label": -1}, 422, "label -1 is out of range: model 'digits' has classes 0 … 9."),
        (
            LABEL,
            {"n": 1025},
            413,
            "n = 1025 images is over this service's limit of 1024 per /images request; use "
            "/datasets (parquet) for bulk.",
        ),
        (
            "/v1/models/sines/images",
            {},
            422,
            "Model 'sines' is a generate model; this route needs an image model.",
        ),
    ],
)
def test_images_refusals(
    client: TestClient, path: str, body: dict[str, object], status: int, detail: str
) -> None:
    r = client.post(path, json=body)
    assert (r.status_code, r.json()) == (status, {"detail": detail})


def test_images_other_routes_refuse_image_models(client: TestClient) -> None:
    r = client.post("/v1/models/digits/samples", json={"n": 1})
    assert (r.status_code, r.json()["detail"]) == (
        422,
        "Model 'digits' is an image model; this route needs a generate model.",
    )
    r = client.post(
        "/v1/models/digits_text/forecast", json={"series": [{"id": "a", "values": [1.0]}]}
    )
    assert r.status_code == 422 and "image model" in r.json()["detail"]
    r = client.post("/v1/models/digits/datasets", json={"n": 2, "format": "csv"})
    assert (r.status_code, r.json()["detail"]) == (
        422,
        "model 'digits' is an image model: /datasets answers it as parquet only (columns "
        "image_id, label or prompt, pixels).",
    )
    r = client.post("/v1/models/sines/datasets", json={"n": 2, "label": 3})
    assert (r.status_code, r.json()["detail"]) == (
        422,
        "'label' and 'prompt' apply to image models; model 'sines' is not one.",
    )


def test_images_dataset_parquet_rows(client: TestClient) -> None:
    body = {"n": 25, "seed": 2, "offset": 5, "format": "parquet"}
    r = client.post("/v1/models/digits_text/datasets", json=body)
    assert r.status_code == 200
    assert r.headers["content-disposition"] == "attachment; filename=digits_text-2-5-25.parquet"
    table = pq.read_table(io.BytesIO(r.content))
    assert table.column_names == ["image_id", "prompt", "pixels"]
    assert table.column("image_id").to_pylist() == list(range(5, 30))
    assert table.column("prompt")[0].as_py() == "a handwritten five"
    pixels = np.asarray(table.column("pixels").to_pylist(), dtype=np.int64)
    assert pixels.shape == (25, 64) and pixels.min() >= 0 and pixels.max() <= 16
    assert client.post("/v1/models/digits_text/datasets", json=body).content == r.content
    # Row i is image i of the seed's stream: the /images route with the same prompt agrees.
    one = client.post(
        TEXT, json={"n": 6, "seed": 2, "prompt": "a handwritten five", "format": "json"}
    ).json()["images"]
    assert (pixels[0] == np.asarray(one[5]).reshape(-1)).all()
    labels = client.post(
        "/v1/models/digits/datasets", json={"n": 3, "label": 7, "format": "parquet"}
    )
    table = pq.read_table(io.BytesIO(labels.content))
    assert table.column_names == ["image_id", "label", "pixels"]
    assert table.column("label").to_pylist() == [7, 7, 7]


def test_images_dataset_over_the_row_limit_is_413() -> None:
    settings = Settings(models_dir=MODELS, max_dataset_rows=10, _env_file=None)  # type: ignore[call-arg]
    with TestClient(create_app(settings)) as small:
        r = small.post("/v1/models/digits/datasets", json={"n": 11, "format": "parquet"})
    assert (r.status_code, r.json()["detail"]) == (
        413,
        "n = 11 images is over this service's limit of 10; fetch the set in shards with 'offset'.",
    )


def test_images_cli_generate_matches_http(client: TestClient, tmp_path: Path) -> None:
    out = tmp_path / "sevens.png"
    args = ["generate", "--model", "digits_text", "--n", "4", "--seed", "9", "--format", "png"]
    result = CliRunner().invoke(
        cli_app, [*args, "--prompt", "a seven", "--out", str(out), "--models-dir", str(MODELS)]
    )
    assert result.exit_code == 0, result.output
    r = client.post(TEXT, json={"n": 4, "seed": 9, "prompt": "a seven"})
    assert out.read_bytes() == r.content
    parquet = tmp_path / "digits.parquet"
    result = CliRunner().invoke(
        cli_app,
        [
            "generate",
            "--model",
            "digits",
            "--n",
            "7",
            "--format",
            "parquet",
            "--out",
            str(parquet),
            "--models-dir",
            str(MODELS),
        ],
    )
    assert result.exit_code == 0, result.output
    http = client.post("/v1/models/digits/datasets", json={"n": 7, "format": "parquet"})
    assert parquet.read_bytes() == http.content


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        (
            "width",
            7,
            "the graph answers shape [2, 8, 8] where the manifest implies [2, 8, 7] "
            "(latent_dim 8, 1 feature(s))",
        ),
        ("latent_dim", 5, "the graph does not run on the manifest's shapes: "),
    ],
)
def test_images_registry_refuses_a_graph_unlike_its_manifest(
    tmp_path: Path, field: str, value: int, reason: str
) -> None:
    """check_graph runs image graphs at load: a manifest that lies about them is refused."""
    from service.registry import Registry

    models = tmp_path / "models"
    shutil.copytree(MODELS / "digits" / "1", models / "digits" / "1")  # the only version
    path = models / "digits" / "1" / "manifest.json"
    raw = json.loads(path.read_text())
    if field == "latent_dim":
        raw["latent_dim"] = value
    else:
        raw["image"][field] = value
    path.write_text(json.dumps(raw))
    registry = Registry(Settings(models_dir=models, _env_file=None))  # type: ignore[call-arg]
    registry.reload()
    assert "digits" not in registry.models
    assert registry.refused["digits/1"].startswith(reason)
