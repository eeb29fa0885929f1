"""Image models in numpy: a checked plan (service/plans.py) in, images out as a PNG grid, pixel
units (JSON), a .npy file, or parquet rows for /datasets. Image i of seed s uses noise series i
of rnngan/core/noise.py, so the same request gives the same bytes and image i is the same in
any request. Prompts are tokenised by rnngan/core/images.py (no torch)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

import numpy as np
import orjson
import pyarrow as pa

from rnngan.core import images as img
from rnngan.core.noise import series_noise
from service.inference import finite
from service.plans import ImagePlan
from service.registry import LoadedModel
from service.streaming import encode_stream

PNG_COLS, PNG_SCALE = 8, 8  # grid: images per row; screen pixels per image pixel (each way)


def generate_images(
    model: LoadedModel, plan: ImagePlan, first: int = 0, count: int = -1
) -> np.ndarray:
    """Images `first … first+count-1` of the plan (relative to its offset), (k, H, W) float32 in
    [0, 1], in calls of at most `plan.chunk` images."""
    spec = plan.spec
    count = plan.n - first if count < 0 else count
    parts = []
    for start in range(first, first + count, plan.chunk):
        k = min(plan.chunk, first + count - start)
        inputs = {
            "noise": series_noise(
                plan.seed, plan.offset + start, k, spec.height, model.manifest.latent_dim
            )
        }
        if plan.labels is not None:
            eye = np.eye(int(spec.num_classes or 1), dtype=np.float32)
            inputs["label"] = eye[plan.labels[start : start + k]]
        if plan.tokens is not None:
            inputs["tokens"] = plan.tokens[start : start + k]
        parts.append(np.asarray(model.run(inputs, batched=False), dtype=np.float32))
    return finite(np.concatenate(parts), model)


def pixel_units(images: np.ndarray, pixel_max: float) -> np.ndarray:
    """[0, 1] images -> the data's pixel units 0 … pixel_max, rounded, uint8 (pixel_max <= 255)."""
    return np.rint(np.clip(images, 0.0, 1.0) * pixel_max).astype(np.uint8)


def encode(model: LoadedModel, plan: ImagePlan, pixels: np.ndarray, prompt: str | None) -> bytes:
    """The /images answer: json (`ImagesResponse`), png (a grid of the rounded images) or npy
    (uint8 (n, H, W) in pixel units, np.save) bytes."""
    if plan.format == "json":
        body = {
            "model": model.manifest.name,
            "version": model.manifest.version,
            "images": pixels,
            "labels": plan.labels,
            "prompt": prompt,
            "unknown_words": list(plan.unknown_words),
        }
        return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
    if plan.format == "png":
        scaled = pixels.astype(np.float64) / plan.spec.pixel_max
        return img.encode_png_grid(scaled, cols=PNG_COLS, scale=PNG_SCALE)
    buffer = io.BytesIO()
    np.save(buffer, pixels, allow_pickle=False)
    return buffer.getvalue()


def arrow_schema(plan: ImagePlan) -> pa.Schema:
    """image_id int64, then label int64 (label models) or prompt string (text models), then
    pixels: list<uint8> of height × width values, row-major, in pixel units."""
    fields = [pa.field("image_id", pa.int64())]
    if plan.labels is not None:
        fields.append(pa.field("label", pa.int64()))
    if plan.prompts is not None:
        fields.append(pa.field("prompt", pa.string()))
    return pa.schema([*fields, pa.field("pixels", pa.list_(pa.uint8()))])


def dataset_stream(
    model: LoadedModel, plan: ImagePlan, *, on_rows: Callable[[int], object] = lambda rows: None
) -> Iterator[bytes]:
    """Parquet bytes of a checked image /datasets request, one row group per chunk."""
    schema = arrow_schema(plan)
    size = plan.spec.height * plan.spec.width

    def blocks() -> Iterator[tuple[int, np.ndarray | pa.Table]]:
        for first in range(0, plan.n, plan.chunk):
            k = min(plan.chunk, plan.n - first)
            pixels = pixel_units(generate_images(model, plan, first, k), plan.spec.pixel_max)
            columns: list[pa.Array] = [
                pa.array(np.arange(plan.offset + first, plan.offset + first + k), pa.int64())
            ]
            if plan.labels is not None:
                columns.append(pa.array(plan.labels[first : first + k], pa.int64()))
            if plan.prompts is not None:
                columns.append(pa.array(plan.prompts[first : first + k], pa.string()))
            offsets = pa.array(np.arange(0, (k + 1) * size, size, dtype=np.int32))
            columns.append(pa.ListArray.from_arrays(offsets, pa.array(pixels.reshape(-1))))
            on_rows(k)
            yield plan.offset + first, pa.Table.from_arrays(columns, schema=schema)

    return encode_stream(blocks(), features=[], fmt="parquet", header=True, table_schema=schema)
