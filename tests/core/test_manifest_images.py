"""The manifest's image section (task `image`): what it must carry for each conditioning."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from rnngan.core import images as img
from rnngan.core.manifest import ImageSpec, Manifest

SHA = "0" * 64


def _raw(conditioning: str, inputs: list[str]) -> dict[str, Any]:
    return {
        "name": "digits",
        "version": 1,
        "task": "image",
        "features": ["pixels"],
        "seq_len": 8,
        "latent_dim": 8,
        "scaler": {
            "kind": "minmax",
            "data_min": [0.0],
            "data_max": [16.0],
            "applied_in_graph": False,
        },
        "onnx": {"sha256": SHA, "opset": 17, "inputs": inputs, "outputs": ["images"]},
        "training": {},
        "dataset": {"name": "digits", "source": "sklearn", "columns": ["pixels"], "n_windows": 1},
        "image": ImageSpec.digits(conditioning).model_dump(),
    }


@pytest.mark.parametrize(
    ("conditioning", "inputs"),
    [("none", ["noise"]), ("label", ["noise", "label"]), ("text", ["noise", "tokens"])],
)
def test_manifest_image_sections_validate(conditioning: str, inputs: list[str]) -> None:
    manifest = Manifest.model_validate(_raw(conditioning, inputs))
    assert manifest.image is not None and manifest.image.conditioning == conditioning
    assert '"image"' in manifest.to_json()


def test_manifest_image_text_spec_carries_the_tokenizer() -> None:
    spec = ImageSpec.digits("text")
    assert (spec.vocab, spec.pad_id, spec.unk_id) == (list(img.VOCAB), 0, 1)
    assert spec.max_prompt_len == 12 and spec.class_names == list(img.DIGIT_WORDS)


def test_manifest_image_graph_io_must_match_the_conditioning() -> None:
    with pytest.raises(ValidationError, match=r"must have inputs \['noise', 'tokens'\]"):
        Manifest.model_validate(_raw("text", ["noise", "label"]))


def test_manifest_image_section_only_with_task_image() -> None:
    raw = _raw("label", ["noise", "label"])
    del raw["image"]
    with pytest.raises(ValidationError, match="an image section goes with task 'image'"):
        Manifest.model_validate(raw)


def test_manifest_image_text_without_vocab_is_rejected() -> None:
    raw = _raw("text", ["noise", "tokens"])
    raw["image"]["vocab"] = None
    with pytest.raises(ValidationError, match="needs vocab and max_prompt_len"):
        Manifest.model_validate(raw)
