"""The image section of a run config (`[image]`, task = "image"); training/config.py holds the
rest and reads it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, kw_only=True)
class ImageConfig:
    """task = "image" (training/families/images.py): the row-recurrent digit GANs. The generator
    uses model.latent_dim / hidden_size / num_layers, the discriminator's GRU disc_hidden_size."""

    conditioning: Literal["label", "none"] = "label"  # model.kind = "image": one-hot label or none
    disc_kind: Literal["gru", "mlp"] = "gru"  # discriminator over rows (bi-GRU) or flat pixels
    disc_features: int = 256
    loss: Literal["hinge", "ns"] = "hinge"
    spectral_norm: bool = True
    mbstd_group: int = 4  # per-pixel minibatch-std feature in D (<= 1: off)
    mode_seeking: float = 0.0  # MSGAN term weight (0: off)
    mismatch_weight: float = 0.5  # text: matching-aware share of D's fake loss (GAN-INT-CLS)
    text_dim: int = 32  # text: the frozen encoder's text features
    # text: what conditions the generator and discriminator: the text features ("embedding") or
    # the encoder's posterior over the digits ("classes")
    text_condition: Literal["embedding", "classes"] = "embedding"
    encoder_steps: int = 600  # text: encoder pre-training steps
    encoder_batch: int = 128
    word_dropout: float = 0.1  # text: encoder pre-training words replaced by <unk>
    select_images: int = 500  # selection (train.select_every): images scored per check
    # selection's copying floor: the training images' leave-one-out nearest distance (0), or
    # with k folds each one's distance to the other folds (training/evaluate/images.py)
    select_nn_folds: int = 0
    r1_weight: float = 0.0  # R1 penalty on real images (Mescheder et al., ICML 2018; 0: off)
