"""scikit-learn's bundled digits (8x8 images, pixel values 0..16), the image families' data.

The split is fixed: stratified 80/20 with seed 0. The GANs train on the training split only;
the test split is the evaluation's real reference (training/evaluate/images.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from rnngan.core import images as img

SOURCE = "sklearn.datasets.load_digits"


@dataclass(frozen=True)
class DigitSplit:
    """Images (n, 8, 8) float32 in [0, 1] (pixels / 16) and labels (n,) int64."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    sha256: str  # of the source pixels (uint8) and labels, as loaded


def load_digit_split(seed: int = 0, test_size: float = 0.2) -> DigitSplit:
    """The digits split stratified by label (`seed`, `test_size`)."""
    digits = load_digits()
    pixels = digits.images.astype(np.uint8)
    y = digits.target.astype(np.int64)
    digest = hashlib.sha256(pixels.tobytes() + y.tobytes()).hexdigest()
    x_tr, x_te, y_tr, y_te = train_test_split(
        img.from_pixel_units(pixels), y, test_size=test_size, stratify=y, random_state=seed
    )
    return DigitSplit(x_tr, y_tr, x_te, y_te, digest)
