"""The digit-image families on scikit-learn's digits (8x8): a row-recurrent GAN conditioned on the
class label (or on nothing), and a text-to-image GAN conditioned on a caption.

* `ImageGAN` (`model.kind = "image"`, `image.conditioning = "label"`): noise (n, 8, latent) and a
  one-hot label (n, 10) -> images (n, 8, 8) in [0, 1]; `UncondImageGAN` (`conditioning = "none"`)
  takes the noise alone.
* `TextImageGAN` (`model.kind = "text_image"`): noise and token ids (n, L) int64 (tokenised by
  rnngan/core/images.py) -> images. The text encoder is pre-trained to name the digit of the
  training-template captions (word dropout to <unk>, so unknown words are tolerated) and frozen;
  the discriminator is matching-aware (GAN-INT-CLS, Reed et al., ICML 2016, Alg. 1): real image
  + mismatched caption counts as fake.

Losses: hinge (default) or non-saturating; Adam (0.5, 0.999); the generator's weights are
averaged (EMA) and the average is what is checkpointed and exported. With `train.select_every`,
the average is scored every N steps (training/evaluate/images.py `SelectionScore`, training data
only) and the best is kept. Networks: training/networks_images.py.

    rnngan train --config configs/digits.toml        # and configs/digits_text.toml
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rnngan.core import images as img
from rnngan.core.manifest import IMAGE_GRAPH_IO, DatasetInfo, ImageSpec, Scaler
from training.checkpoint import Checkpoint, KeptBest
from training.config import RunConfig
from training.data.digits import SOURCE, DigitSplit, load_digit_split
from training.evaluate.images import SelectionScore, evaluate_images, label_sampler, text_sampler
from training.families.base import AxesSpec, Family
from training.loop import Trainer
from training.networks import ema_update
from training.networks_images import (
    LabelImageGraph,
    RowDiscriminator,
    RowGenerator,
    TextEncoder,
    TextImageGraph,
    UncondImageGraph,
)

BETAS = (0.5, 0.999)


def _cond_dim(config: RunConfig) -> int:
    if config.model.kind == "text_image":
        classes = config.image.text_condition == "classes"
        return img.NUM_CLASSES if classes else config.image.text_dim
    return img.NUM_CLASSES if config.image.conditioning == "label" else 0


def build_graph(config: RunConfig) -> nn.Module:
    """The exported module of a config, untrained: its generator (and text encoder)."""
    m = config.model
    encoder = None
    if config.model.kind == "text_image":  # first: it fixes the initial weights drawn after it
        encoder = TextEncoder(
            vocab_size=len(img.VOCAB),
            out_dim=config.image.text_dim,
            condition=config.image.text_condition,
        )
    generator = RowGenerator(
        latent_dim=m.latent_dim,
        cond_dim=_cond_dim(config),
        hidden=m.hidden_size,
        layers=m.num_layers,
        width=img.IMAGE_SIZE,
    )
    if encoder is not None:
        return TextImageGraph(encoder, generator)
    if config.image.conditioning == "label":
        return LabelImageGraph(generator)
    return UncondImageGraph(generator)


def all_captions(templates: tuple[str, ...]) -> torch.Tensor:
    """Token ids (10, len(templates), L) of every caption of every label."""
    ids = [img.encode_prompts(img.captions(templates, y))[0] for y in range(img.NUM_CLASSES)]
    return torch.from_numpy(np.stack(ids))


def pretrain_encoder(config: RunConfig, encoder: TextEncoder, rng: torch.Generator) -> None:
    """Train `encoder` to name the digit of random training-template captions (cross-entropy,
    Adam 3e-3, word dropout to <unk>), then freeze it."""
    c = config.image
    opt = torch.optim.Adam(encoder.parameters(), lr=3e-3)
    tokens_all = all_captions(img.TRAIN_TEMPLATES)
    for _ in range(c.encoder_steps):
        y = torch.randint(0, img.NUM_CLASSES, (c.encoder_batch,), generator=rng)
        t = torch.randint(0, tokens_all.shape[1], (c.encoder_batch,), generator=rng)
        tokens = tokens_all[y, t].clone()
        drop = torch.rand(tokens.shape, generator=rng) < c.word_dropout
        tokens[drop & (tokens != img.PAD_ID)] = img.UNK_ID
        loss = F.cross_entropy(encoder.logits(tokens), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    encoder.eval().requires_grad_(False)


def d_loss_terms(loss: str, real: torch.Tensor, fakes: list[tuple[torch.Tensor, float]]) -> Any:
    """Discriminator loss: real logits pushed up, each weighted group of fake logits down."""
    if loss == "hinge":
        total = F.relu(1.0 - real).mean()
        return total + sum(w * F.relu(1.0 + logits).mean() for logits, w in fakes)
    total = F.softplus(-real).mean()
    return total + sum(w * F.softplus(logits).mean() for logits, w in fakes)


def grouped_batch(
    labels: torch.Tensor, batch: int, group: int, rng: torch.Generator
) -> torch.Tensor:
    """Batch indices in which each minibatch-std group (sample i is in group i mod batch/group)
    shares a class, classes drawn by frequency: the std then measures within-class variety, so
    a generator collapsed inside a class is visible to D."""
    rows = [torch.nonzero(labels == c).flatten() for c in range(int(labels.max()) + 1)]
    counts = torch.tensor([len(r) for r in rows])
    table = torch.zeros(len(rows), int(counts.max()), dtype=torch.int64)
    for c, r in enumerate(rows):
        table[c, : len(r)] = r
    k = batch // group
    classes = labels[torch.randint(0, len(labels), (k,), generator=rng)]  # (k,)
    pos = (torch.rand(group, k, generator=rng) * counts[classes]).long()  # (group, k)
    return table[classes.expand(group, k), pos].flatten()


class ImageTrainer(Trainer):
    """One step: a discriminator update, then a generator update on fresh noise and the same
    conditions, then the EMA. Every batch and noise comes from the loop's seeded generator."""

    def __init__(self, config: RunConfig, rng: torch.Generator) -> None:
        self.config, self.rng = config, rng
        c, m, t = config.image, config.model, config.train
        self.split: DigitSplit = load_digit_split(config.seed)
        self.x = torch.from_numpy(self.split.x_train)  # (N, 8, 8)
        self.y = torch.from_numpy(self.split.y_train)  # (N,)
        self.graph = build_graph(config)  # initial weights: encoder, then generator
        self.table: torch.Tensor | None = None
        if isinstance(self.graph, TextImageGraph):
            pretrain_encoder(config, self.graph.encoder, rng)
            with torch.no_grad():  # every training caption's condition, (10, templates, dim)
                tok = all_captions(img.TRAIN_TEMPLATES)
                cond = self.graph.encoder(tok.flatten(0, 1))
                self.table = cond.reshape(img.NUM_CLASSES, tok.shape[1], -1)
        self.generator: RowGenerator = self.graph.generator
        self.cond_dim = _cond_dim(config)
        self.disc = RowDiscriminator(
            cond_dim=self.cond_dim,
            hidden=m.disc_hidden_size,
            kind=c.disc_kind,
            use_sn=c.spectral_norm,
            features=c.disc_features,
            mbstd_group=c.mbstd_group,
        )
        # The exported average: the same module tree as `graph`, generator weights averaged.
        self.average = copy.deepcopy(self.graph).requires_grad_(False)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=t.lr_g, betas=BETAS)
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=t.lr_d, betas=BETAS)
        self.grouped = self.cond_dim > 0 and c.mbstd_group > 1 and t.batch_size % c.mbstd_group == 0
        self.total_steps = t.steps
        self.steps_done = 0
        self.scorer = (
            SelectionScore(self.split, c.select_images, c.select_nn_folds)
            if t.select_every
            else None
        )
        self.kept = KeptBest()

    def condition(self, labels: torch.Tensor) -> torch.Tensor | None:
        if self.table is not None:  # a random training caption of each label
            t = torch.randint(0, self.table.shape[1], labels.shape, generator=self.rng)
            return self.table[labels, t]
        if self.cond_dim:
            return F.one_hot(labels, img.NUM_CLASSES).to(torch.float32)
        return None

    def step(self) -> dict[str, float]:
        c, t = self.config.image, self.config.train
        bs, latent = t.batch_size, self.config.model.latent_dim
        if self.grouped:
            idx = grouped_batch(self.y, bs, c.mbstd_group, self.rng)
        else:
            idx = torch.randint(0, len(self.x), (bs,), generator=self.rng)
        real, labels = self.x[idx], self.y[idx]  # (B, 8, 8), (B,)
        if c.r1_weight > 0:
            real = real.clone().requires_grad_(True)
        cond = self.condition(labels)
        noise = torch.randn(bs, img.IMAGE_SIZE, latent, generator=self.rng)
        fake = self.generator(noise, cond)

        d_real, d_fake = self.disc(real, cond), self.disc(fake.detach(), cond)
        fakes = [(d_fake, 1.0)]
        if self.table is not None and c.mismatch_weight > 0:
            shift = torch.randint(1, img.NUM_CLASSES, labels.shape, generator=self.rng)
            wrong = self.condition((labels + shift) % img.NUM_CLASSES)
            fakes = [
                (d_fake, 1.0 - c.mismatch_weight),
                (self.disc(real, wrong), c.mismatch_weight),
            ]
        d_loss = d_loss_terms(c.loss, d_real, fakes)
        if c.r1_weight > 0:  # R1 (Mescheder et al., ICML 2018, eq. 9): gamma/2 E|grad D(x)|^2
            (grad,) = torch.autograd.grad(d_real.sum(), real, create_graph=True)
            d_loss = d_loss + 0.5 * c.r1_weight * grad.pow(2).flatten(1).sum(1).mean()
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()

        noise = torch.randn(bs, img.IMAGE_SIZE, latent, generator=self.rng)
        fake = self.generator(noise, cond)
        g_logits = self.disc(fake, cond)
        g_loss = -g_logits.mean() if c.loss == "hinge" else F.softplus(-g_logits).mean()
        if c.mode_seeking > 0:
            # MSGAN (Mao et al., CVPR 2019, eq. 3): other noise, same condition, other images.
            noise2 = torch.randn(bs, img.IMAGE_SIZE, latent, generator=self.rng)
            ratio = (fake - self.generator(noise2, cond)).abs().mean() / (
                noise - noise2
            ).abs().mean()
            g_loss = g_loss + c.mode_seeking / (ratio + 1e-5)
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        self.steps_done += 1
        decay = t.ema_decay if t.ema_decay > 0 else 0.0
        ema_update(
            self.average.generator,
            self.generator,
            min(decay, (1 + self.steps_done) / (10 + self.steps_done)),
        )
        return {
            "d_loss": float(d_loss.item()),
            "g_loss": float(g_loss.item()),
            "d_real": float(d_real.mean().item()),
            "d_fake": float(d_fake.mean().item()),
        }

    def sampler(self) -> Any:
        graph, latent = self.average.eval(), self.config.model.latent_dim
        if isinstance(graph, TextImageGraph):
            prompts = text_sampler(graph, latent)
            return lambda labels, seed: prompts(
                [img.caption("the digit {w}", int(v)) for v in labels], seed
            )
        return label_sampler(graph, latent, self.cond_dim > 0)

    def validate(self, step: int) -> float | None:
        if self.scorer is None:
            return None
        score = self.scorer(self.sampler())
        self.kept.offer(score, step, self.average)
        return score

    def checkpoint(self, step: int) -> Checkpoint:
        weights, selection = self.kept.weights(self.average.state_dict())
        s = self.split
        return Checkpoint(
            config=self.config,
            step=step,
            generator=weights,
            discriminator=self.disc.state_dict(),
            features=["pixels"],
            dataset=DatasetInfo(
                name="digits",
                source=SOURCE,
                sha256=s.sha256,
                columns=["pixels", "label"],
                n_windows=len(s.x_train),
            ),
            seq_len=img.IMAGE_SIZE,
            freq=None,
            data_min=[0.0],
            data_max=[img.PIXEL_MAX],
            selection=selection,
        )


class ImageGAN(Family):
    """Label-conditional digits: noise (n, 8, latent) + one-hot label (n, 10) -> images."""

    name = "image"
    task = "image"
    datasets = frozenset({"digits"})
    kind = "image"
    conditioning = "label"
    graph_io = IMAGE_GRAPH_IO["label"]
    dynamic_axes: AxesSpec = {"noise": {0: "batch"}, "label": {0: "batch"}, "images": {0: "batch"}}

    def accepts(self, config: RunConfig) -> bool:
        conditioning = "text" if config.model.kind == "text_image" else config.image.conditioning
        return super().accepts(config) and conditioning == self.conditioning

    def trainer(self, config: RunConfig, rng: torch.Generator) -> ImageTrainer:
        return ImageTrainer(config, rng)

    def graph(self, ckpt: Checkpoint) -> nn.Module:
        graph = build_graph(ckpt.config)
        graph.load_state_dict(ckpt.generator)
        return graph

    def evaluate(self, config: RunConfig, graph: nn.Module) -> dict[str, Any]:
        return evaluate_images(config, graph)

    def example_inputs(self, ckpt: Checkpoint, batch: int, length: int) -> dict[str, torch.Tensor]:
        """Noise and a label per image (`length` unused: images have a fixed size)."""
        g = torch.Generator().manual_seed(1234)
        latent = ckpt.config.model.latent_dim
        labels = torch.randint(0, img.NUM_CLASSES, (batch,), generator=g)
        return {
            "noise": torch.randn(batch, img.IMAGE_SIZE, latent, generator=g),
            "label": F.one_hot(labels, img.NUM_CLASSES).to(torch.float32),
        }

    def export_length(self, config: RunConfig) -> int:
        return img.IMAGE_SIZE

    def manifest_fields(self, ckpt: Checkpoint) -> dict[str, Any]:
        return {
            "seq_len": img.IMAGE_SIZE,
            "scaler": Scaler(
                kind="minmax", data_min=[0.0], data_max=[img.PIXEL_MAX], applied_in_graph=False
            ),
            "image": ImageSpec.digits(self.conditioning),
        }


class UncondImageGAN(ImageGAN):
    """Unconditional digits: noise (n, 8, latent) -> images."""

    name = "image_uncond"
    conditioning = "none"
    graph_io = IMAGE_GRAPH_IO["none"]
    dynamic_axes = {"noise": {0: "batch"}, "images": {0: "batch"}}

    def example_inputs(self, ckpt: Checkpoint, batch: int, length: int) -> dict[str, torch.Tensor]:
        return {"noise": super().example_inputs(ckpt, batch, length)["noise"]}


class TextImageGAN(ImageGAN):
    """Text-to-image digits: noise (n, 8, latent) + token ids (n, L) int64 -> images."""

    name = "text_image"
    kind = "text_image"
    conditioning = "text"
    graph_io = IMAGE_GRAPH_IO["text"]
    dynamic_axes = {
        "noise": {0: "batch"},
        "tokens": {0: "batch", 1: "prompt_len"},
        "images": {0: "batch"},
    }

    def example_inputs(self, ckpt: Checkpoint, batch: int, length: int) -> dict[str, torch.Tensor]:
        """Noise and captions from every template, padded to `length` tokens."""
        noise = super().example_inputs(ckpt, batch, length)["noise"]
        templates = img.TRAIN_TEMPLATES + img.HELDOUT_TEMPLATES
        prompts = [img.caption(templates[i % len(templates)], i % 10) for i in range(batch)]
        tokens = img.encode_prompts(prompts, max_len=max(length, 1))[0]
        return {"noise": noise, "tokens": torch.from_numpy(tokens)}
