"""Plans for image models (service/images.py runs them): every 413/422 of an /images request
and of an image model's /datasets request, decided before any work."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from rnngan.core import images as img
from rnngan.core.manifest import ImageSpec
from service.config import Settings
from service.errors import InvalidInput, TooLarge
from service.registry import LoadedModel
from service.schemas import (
    DatasetRequest,
    ImagesRequest,
)


@dataclass(frozen=True)
class ImagePlan:
    """A checked /images or image /datasets request: images `offset … offset+n-1` of `seed`,
    each with its class (label models) or prompt and token ids (text models)."""

    spec: ImageSpec
    n: int
    seed: int
    offset: int
    format: str  # png | json | npy | parquet
    chunk: int  # images per ONNX Runtime call and per streamed row group
    labels: np.ndarray | None = None  # (n,) int64
    prompts: list[str] | None = None  # (n,) the prompt of each image
    tokens: np.ndarray | None = None  # (n, max_prompt_len) int64
    unknown_words: tuple[str, ...] = ()


def plan_images(model: LoadedModel, body: ImagesRequest, settings: Settings) -> ImagePlan:
    spec = _image_spec(model)
    _image_options(model, spec, prompt=body.prompt, label=body.label)
    if body.n > settings.max_images:
        raise TooLarge(
            f"n = {body.n} images is over this service's limit of {settings.max_images} per "
            "/images request; use /datasets (parquet) for bulk."
        )
    return _image_plan(
        model,
        spec,
        body.n,
        body.seed,
        0,
        body.format,
        body.prompt,
        body.label,
        settings.max_call_rows,
    )


def plan_image_dataset(model: LoadedModel, body: DatasetRequest, settings: Settings) -> ImagePlan:
    """/datasets for an image model: parquet only, one row per image."""
    spec = _image_spec(model)
    if body.format != "parquet":
        raise InvalidInput(
            f"model '{model.name}' is an image model: /datasets answers it as parquet only "
            "(columns image_id, label or prompt, pixels)."
        )
    if body.compression != "none":
        raise InvalidInput("compression applies to csv and ndjson; parquet is compressed inside.")
    if (
        body.length is not None
        or body.condition is not None
        or body.start is not None
        or (body.impute)
    ):
        raise InvalidInput(
            f"'length', 'condition', 'start' and 'impute' do not apply to image model "
            f"'{model.name}'."
        )
    _image_options(model, spec, prompt=body.prompt, label=body.label)
    if body.n > settings.max_dataset_rows:
        raise TooLarge(
            f"n = {body.n} images is over this service's limit of {settings.max_dataset_rows}; "
            "fetch the set in shards with 'offset'."
        )
    return _image_plan(
        model,
        spec,
        body.n,
        body.seed,
        body.offset,
        "parquet",
        body.prompt,
        body.label,
        min(settings.dataset_chunk_series, settings.max_call_rows),
    )


def _image_spec(model: LoadedModel) -> ImageSpec:
    spec = model.manifest.image
    if spec is None:
        raise InvalidInput(
            f"Model '{model.name}' is a {model.manifest.task} model; this route needs an image "
            "model."
        )
    return spec


def _image_options(
    model: LoadedModel, spec: ImageSpec, *, prompt: str | None, label: int | None
) -> None:
    """A prompt goes with text models only (and they need one), a label with label models."""
    kind = spec.conditioning
    if prompt is not None and kind != "text":
        raise InvalidInput(
            f"model '{model.name}' is conditioned on {kind if kind != 'none' else 'nothing'}, "
            "not on text: drop 'prompt'" + (" and give 'label'." if kind == "label" else ".")
        )
    if label is not None and kind != "label":
        raise InvalidInput(
            f"model '{model.name}' is conditioned on "
            f"{'text: give a prompt instead of' if kind == 'text' else 'nothing: drop'} 'label'."
        )
    if label is not None and not 0 <= label < int(spec.num_classes or 0):
        raise InvalidInput(
            f"label {label} is out of range: model '{model.name}' has classes 0 … "
            f"{int(spec.num_classes or 0) - 1}."
        )


def _image_plan(
    model: LoadedModel,
    spec: ImageSpec,
    n: int,
    seed: int,
    offset: int,
    fmt: str,
    prompt: str | None,
    label: int | None,
    chunk: int,
) -> ImagePlan:
    ids = np.arange(offset, offset + n, dtype=np.int64)
    classes = int(spec.num_classes or 1)
    plan = ImagePlan(spec, n, seed, offset, fmt, max(1, chunk))
    if spec.conditioning == "label":
        labels = np.full(n, label, np.int64) if label is not None else ids % classes
        return dataclasses.replace(plan, labels=labels)
    if spec.conditioning == "none":
        return plan
    names = spec.class_names or [str(c) for c in range(classes)]
    if prompt is None and fmt != "parquet":
        raise InvalidInput(
            f"model '{model.name}' draws from text: give a 'prompt', e.g. 'a handwritten "
            f"{names[-1]}'."
        )
    prompts = (
        [prompt] * n if prompt is not None else [f"a handwritten {names[c]}" for c in ids % classes]
    )
    vocab, max_len = spec.vocab or [], int(spec.max_prompt_len or 1)
    encoded: dict[str, tuple[np.ndarray, list[str]]] = {}
    for text in dict.fromkeys(prompts):
        words = img.tokenize(text)
        if not words:
            raise InvalidInput("'prompt' has no words: say what to draw, e.g. 'a handwritten two'.")
        if len(words) > max_len:
            raise InvalidInput(
                f"'prompt' has {len(words)} words; model '{model.name}' reads at most {max_len}."
            )
        encoded[text] = img.encode_prompt(text, max_len, vocab)
    tokens = np.stack([encoded[t][0] for t in prompts])
    unknown = tuple(dict.fromkeys(w for t in encoded.values() for w in t[1]))
    return dataclasses.replace(plan, prompts=prompts, tokens=tokens, unknown_words=unknown)
