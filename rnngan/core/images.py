"""Digit images and text prompts, numpy only (shared by training and the torch-free service).

The image families are trained on scikit-learn's bundled digits (8x8, pixel values 0..16, ink is
high). Models work in [0, 1] (``pixels / PIXEL_MAX``); :func:`to_pixel_units` maps back.

Prompts are templated captions of the label. :data:`TRAIN_TEMPLATES` are used in training;
:data:`HELDOUT_TEMPLATES` are never trained on and only recombine vocabulary words (new orders,
new combinations), to test that the text encoder generalises beyond memorised strings.
:func:`encode_prompts` is the tokenizer: lowercase, split on non-alphanumerics, ids from
:data:`VOCAB` (``<pad>`` = 0, ``<unk>`` = 1), right-padded / truncated to ``max_len``.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Sequence

import numpy as np

IMAGE_SIZE = 8
"""Rows and columns of a digit image."""
PIXEL_MAX = 16.0
"""The data's pixel range is 0..PIXEL_MAX (integers in the source data)."""
NUM_CLASSES = 10
MAX_PROMPT_LEN = 12
"""Token ids per prompt: longer prompts are truncated, shorter ones right-padded with <pad>."""
PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1

DIGIT_WORDS: tuple[str, ...] = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
)  # fmt: skip

# `{w}` is the digit's word ("seven"), `{n}` its numeral ("7"); "a" becomes "an" before a vowel
# sound (see `caption`).
TRAIN_TEMPLATES: tuple[str, ...] = (
    "{w}",
    "{n}",
    "a {w}",
    "a handwritten {w}",
    "the digit {n}",
    "the digit {w}",
    "{w}, drawn thin",
    "number {n}",
    "the number {w}",
    "an image of a {n}",
    "an image of the digit {w}",
    "a picture of the number {w}",
    "a drawing of a {n}",
    "{w} written by hand",
    "{n}, written by hand",
    "a bold {w}",
    "the number {n}, drawn bold",
    "a thin handwritten {n}",
    "a small {w}",
    "a digit drawn by hand: {w}",
)
HELDOUT_TEMPLATES: tuple[str, ...] = (
    "{w}, the digit",
    "a handwritten digit {n}",
    "the handwritten number {w}",
    "drawn thin, a {w}",
    "a picture of a {n}",
    "an image of the number {n}",
    "the digit {w}, written by hand",
    "a thin {w}",
    "a bold number {n}",
    "digit {n}",
    "a small drawing of the digit {w}",
    "{n}, drawn bold by hand",
)

_TOKEN_RE = re.compile(r"[a-z0-9]+")
TOKENIZER_RULE = (
    "lowercase; words are runs of [a-z0-9] (anything else separates); id = the word's index in "
    "vocab, <unk> when absent; right-padded with <pad>; more than max_prompt_len words is an error"
)
_ARTICLE_RE = re.compile(r"\ba (?!one\b)(?=[aeiou]|8)")


def caption(template: str, label: int) -> str:
    """The caption of `label` (0..9) by `template`, with "a" -> "an" before a vowel sound."""
    text = template.format(w=DIGIT_WORDS[label], n=str(label))
    return _ARTICLE_RE.sub("an ", text)


def captions(templates: Sequence[str], label: int) -> list[str]:
    """Every caption of `label` by `templates`."""
    return [caption(t, label) for t in templates]


def tokenize(text: str) -> list[str]:
    """Lowercase words: runs of ASCII letters/digits; everything else separates."""
    return _TOKEN_RE.findall(text.lower())


def _build_vocab() -> tuple[str, ...]:
    words = {
        w for t in TRAIN_TEMPLATES for y in range(NUM_CLASSES) for w in tokenize(caption(t, y))
    }
    return (PAD, UNK, *sorted(words))


VOCAB: tuple[str, ...] = _build_vocab()
"""Id -> word; ``VOCAB[0] == "<pad>"``, ``VOCAB[1] == "<unk>"``, then the training words sorted."""
WORD_IDS: dict[str, int] = {w: i for i, w in enumerate(VOCAB)}


def encode_prompt(
    text: str, max_len: int = MAX_PROMPT_LEN, vocab: Sequence[str] = VOCAB
) -> tuple[np.ndarray, list[str]]:
    """Token ids of one prompt, shape (max_len,) int64, and the words not in `vocab` (which
    became <unk>). Truncates after `max_len` words; pads on the right with <pad> (0)."""
    index = WORD_IDS if vocab is VOCAB else {w: i for i, w in enumerate(vocab)}
    words = tokenize(text)
    unknown = [w for w in words if w not in index]
    ids = np.full(max_len, PAD_ID, dtype=np.int64)
    toks = [index.get(w, UNK_ID) for w in words[:max_len]]
    ids[: len(toks)] = toks
    return ids, unknown


def encode_prompts(
    texts: Sequence[str], max_len: int = MAX_PROMPT_LEN, vocab: Sequence[str] = VOCAB
) -> tuple[np.ndarray, list[list[str]]]:
    """:func:`encode_prompt` over many prompts: ids (n, max_len) int64 and each one's unknowns."""
    ids = np.full((len(texts), max_len), PAD_ID, dtype=np.int64)
    unknown: list[list[str]] = []
    for i, text in enumerate(texts):
        ids[i], unk = encode_prompt(text, max_len, vocab)
        unknown.append(unk)
    return ids, unknown


def to_pixel_units(images: np.ndarray, round_values: bool = False) -> np.ndarray:
    """Model output in [0, 1] -> the data's pixel units 0..PIXEL_MAX (optionally rounded to the
    integers the source data holds). Values are clipped to the range first."""
    out = np.clip(np.asarray(images, dtype=np.float64), 0.0, 1.0) * PIXEL_MAX
    return np.rint(out) if round_values else out


def from_pixel_units(pixels: np.ndarray) -> np.ndarray:
    """Pixel units 0..PIXEL_MAX -> [0, 1] float32, the models' scale."""
    return (np.asarray(pixels, dtype=np.float32) / np.float32(PIXEL_MAX)).astype(np.float32)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def encode_png(gray: np.ndarray) -> bytes:
    """An 8-bit grayscale PNG of a (height, width) uint8 array."""
    gray = np.ascontiguousarray(gray, dtype=np.uint8)
    if gray.ndim != 2 or gray.size == 0:
        raise ValueError(f"expected a non-empty 2-D array, got shape {gray.shape}")
    height, width = gray.shape
    # Each scanline starts with filter type 0 (None).
    raw = np.concatenate([np.zeros((height, 1), np.uint8), gray], axis=1).tobytes()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _png_chunk(b"IHDR", header),
            _png_chunk(b"IDAT", zlib.compress(raw, 9)),
            _png_chunk(b"IEND", b""),
        )
    )


def encode_png_grid(
    images: np.ndarray,
    cols: int = 8,
    scale: int = 8,
    *,
    pad: int = 1,
    pad_value: float = 0.5,
    invert: bool = False,
) -> bytes:
    """A grayscale PNG of images (n, h, w) in [0, 1], laid out `cols` per row, each pixel an
    upscaled `scale` x `scale` block (nearest neighbour), cells separated by `pad` source pixels
    of `pad_value`. By default ink (1) is white; `invert` draws dark ink on white."""
    images = np.clip(np.asarray(images, dtype=np.float64), 0.0, 1.0)
    if images.ndim != 3 or images.shape[0] == 0:
        raise ValueError(f"expected images of shape (n, h, w), got {images.shape}")
    if cols < 1 or scale < 1 or pad < 0:
        raise ValueError("cols and scale must be >= 1 and pad >= 0")
    if invert:
        images = 1.0 - images
    n, h, w = images.shape
    cols = min(cols, n)
    rows = -(-n // cols)
    cell_h, cell_w = h + pad, w + pad
    canvas = np.full((rows * cell_h + pad, cols * cell_w + pad), pad_value, dtype=np.float64)
    for i in range(n):
        r, c = divmod(i, cols)
        top, left = pad + r * cell_h, pad + c * cell_w
        canvas[top : top + h, left : left + w] = images[i]
    big = np.repeat(np.repeat(canvas, scale, axis=0), scale, axis=1)
    return encode_png(np.rint(big * 255.0).astype(np.uint8))
