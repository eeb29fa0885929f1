"""What every model family answers, so that the stages (train, evaluate, export) ask instead of
deciding: which configs it takes, its trainer, the graph it exports and how that graph is fed,
how it is evaluated, and what the manifest says about it.

`Family` is the contract; `SeriesGenerator` and `Forecaster` hold what the families of one
task share (graph inputs, example inputs, manifest fields), checked once here.
"""

from __future__ import annotations

import typing
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import torch
from torch import nn

from rnngan.core.calendar import calendar_columns
from rnngan.core.manifest import (
    FORECAST_COVARIATE_GRAPH_IO,
    GRAPH_IO,
    Covariates,
    DatasetInfo,
    Scaler,
    StaticAttribute,
)
from training.checkpoint import Checkpoint
from training.config import DataConfig, RunConfig
from training.data.series import GenerationData
from training.evaluate.generation import evaluate_generation
from training.loop import Trainer
from training.networks import ForecastGraph, GenerateGraph

# The built-in and shared series: every `data.dataset` but the user's own table and the images.
SERIES_DATASETS: frozenset[str] = frozenset(
    typing.get_args(typing.get_type_hints(DataConfig)["dataset"])
) - {"table", "digits"}
AxesSpec = dict[str, dict[int, str]]


class Family(ABC):
    """One model family: its networks, its trainer and the graph it exports."""

    name: ClassVar[str]  # the key in training/families/__init__.py's table
    task: ClassVar[str]  # "generate" or "forecast" (RunConfig.task)
    datasets: ClassVar[frozenset[str]]  # the `data.dataset` values it trains on
    kind: ClassVar[str | None] = None  # `model.kind` it answers to (None: any)
    graph_io: ClassVar[tuple[tuple[str, ...], tuple[str, ...]]]  # ONNX input and output names
    dynamic_axes: ClassVar[AxesSpec]  # per graph input/output: the axes that vary
    # Trains data-parallel (training/distributed.py): its trainer draws the global batch, trains
    # on `Shard.take` of it and wraps its networks with `Shard.wrap`.
    data_parallel: ClassVar[bool] = False

    def accepts(self, config: RunConfig) -> bool:
        return (
            config.task == self.task
            and config.data.dataset in self.datasets
            and self.kind in (None, config.model.kind)
        )

    @abstractmethod
    def trainer(self, config: RunConfig, rng: torch.Generator) -> Trainer:
        """Load the data, build the networks and optimisers (in this order: it fixes the
        initial weights drawn from the seeded global generator)."""

    @abstractmethod
    def graph(self, ckpt: Checkpoint) -> nn.Module:
        """The exported module (not yet in eval mode): noise (and history or condition) in,
        real units out."""

    @abstractmethod
    def evaluate(self, config: RunConfig, graph: nn.Module) -> dict[str, Any]:
        """Held-out quality metrics (training/evaluate/), written to metrics.json."""

    @abstractmethod
    def example_inputs(self, ckpt: Checkpoint, batch: int, length: int) -> dict[str, torch.Tensor]:
        """Graph inputs by name for a batch; `length` is T (generate) or H (forecast, with 3
        samples); drawn from a fixed seed."""

    @abstractmethod
    def export_length(self, config: RunConfig) -> int:
        """The `length` the graph is traced at."""

    @abstractmethod
    def manifest_fields(self, ckpt: Checkpoint) -> dict[str, Any]:
        """The manifest fields that depend on the family (shapes, scaler, freq, table)."""

    def io(self, ckpt: Checkpoint) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """This checkpoint's graph input and output names (`graph_io` unless it says more)."""
        return self.graph_io

    def axes(self, ckpt: Checkpoint) -> AxesSpec:
        """This checkpoint's dynamic axes (`dynamic_axes` unless it says more)."""
        return self.dynamic_axes


class SeriesGenerator(Family):
    """Generate families on the built-in series: noise (B, T, latent_dim) -> series in real
    units through a min-max scaler fit on the training data."""

    task = "generate"
    datasets = SERIES_DATASETS
    graph_io = GRAPH_IO["generate"]
    dynamic_axes = {"noise": {0: "batch", 1: "length"}, "samples": {0: "batch", 1: "length"}}

    @abstractmethod
    def generator(self, config: RunConfig, n_features: int) -> nn.Module:
        """The exported generator network, noise (B, T, latent_dim) -> (B, T, F) in [0, 1]."""

    def graph(self, ckpt: Checkpoint) -> nn.Module:
        generator = self.generator(ckpt.config, len(ckpt.features))
        generator.load_state_dict(ckpt.generator)
        data_min = torch.tensor(ckpt.data_min)
        span = torch.tensor(ckpt.data_max) - data_min
        span = torch.where(span > 0, span, torch.ones_like(span))
        return GenerateGraph(generator, data_min, span)

    def evaluate(self, config: RunConfig, graph: nn.Module) -> dict[str, Any]:
        return evaluate_generation(config, graph)

    def example_inputs(self, ckpt: Checkpoint, batch: int, length: int) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(1234)
        latent = ckpt.config.model.latent_dim
        return {"noise": torch.randn(batch, length, latent, generator=g)}

    def export_length(self, config: RunConfig) -> int:
        return config.data.seq_len or 24

    def manifest_fields(self, ckpt: Checkpoint) -> dict[str, Any]:
        return {
            "freq": ckpt.freq,
            "seq_len": ckpt.seq_len,
            "scaler": Scaler(kind="minmax", data_min=ckpt.data_min, data_max=ckpt.data_max),
        }


class Forecaster(Family):
    """Forecast families: history (S, C) and noise (S, N, H, L) in, N sample futures (S, N, H)
    out, each history scaled by its own mean and std inside the graph (training/networks.py)."""

    task = "forecast"
    graph_io = GRAPH_IO["forecast"]
    dynamic_axes = {
        "noise": {0: "batch", 1: "samples", 2: "length"},
        "history": {0: "batch", 1: "context"},
        "forecast": {0: "batch", 1: "samples", 2: "length"},
    }

    @abstractmethod
    def generator(self, config: RunConfig) -> nn.Module:
        """The conditional generator the graph wraps."""

    def io(self, ckpt: Checkpoint) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return FORECAST_COVARIATE_GRAPH_IO if covariate_columns(ckpt.config) else self.graph_io

    def axes(self, ckpt: Checkpoint) -> AxesSpec:
        if not covariate_columns(ckpt.config):
            return self.dynamic_axes
        return {**self.dynamic_axes, "covariates": {0: "batch", 1: "steps"}}

    def graph(self, ckpt: Checkpoint) -> nn.Module:
        generator = self.generator(ckpt.config)
        generator.load_state_dict(ckpt.generator)
        return ForecastGraph(generator)  # type: ignore[arg-type]

    def example_inputs(self, ckpt: Checkpoint, batch: int, length: int) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(1234)
        config = ckpt.config
        history = 20.0 + 5.0 * torch.randn(batch, config.data.context_len, generator=g)
        noise = torch.randn(batch, 3, length, config.model.latent_dim, generator=g)
        inputs = {"history": history, "noise": noise}
        n_cov = len(covariate_columns(config))
        if n_cov:
            steps = config.data.context_len + length
            inputs["covariates"] = 1.0 + 2.0 * torch.randn(batch, steps, n_cov, generator=g)
        return inputs

    def export_length(self, config: RunConfig) -> int:
        return config.data.horizon

    def manifest_fields(self, ckpt: Checkpoint) -> dict[str, Any]:
        d = ckpt.config.data
        return {
            "freq": ckpt.freq,
            "context_len": d.context_len,
            "horizon": d.horizon,
            "season": d.season,
            # one season (two values without one: a single value has no spread)
            "min_history": min(max(d.season, 2), d.context_len) if d.short_histories else None,
            "scaler": Scaler(kind="per_series_standard"),
            "covariates": (
                Covariates(
                    calendar=list(d.calendar),
                    future=list(d.future_cols),
                    static=static_attributes(ckpt.config),
                )
                if covariate_columns(ckpt.config)
                else None
            ),
        }


def covariate_columns(config: RunConfig) -> list[str]:
    """The covariate channels of the graph's `covariates` input, in order: the calendar
    features' sin and cos (resolved names; "auto" is resolved when training starts), then the
    known-future columns."""
    calendar = [c for c in config.data.calendar if c != "auto"]
    statics = list(config.data.static_channels)
    return calendar_columns(calendar) + list(config.data.future_cols) + statics


def static_attributes(config: RunConfig) -> list[StaticAttribute]:
    """The static attributes of a trained forecaster, from its resolved config (each column of
    `data.static_cols` with its channels in `data.static_channels`)."""
    out = []
    for name in config.data.static_cols:
        labels = [
            c.partition("=")[2] for c in config.data.static_channels if c.startswith(name + "=")
        ]
        kind = "categorical" if labels else "numeric"
        out.append(StaticAttribute(name=name, kind=kind, categories=labels or None))
    return out


def series_checkpoint(
    config: RunConfig,
    data: GenerationData,
    nets: tuple[nn.Module, nn.Module],
    step: int,
    phase: str | None = None,
) -> Checkpoint:
    """The checkpoint of a generator trained on built-in series windows."""
    return Checkpoint(
        config=config,
        step=step,
        generator=nets[0].state_dict(),
        discriminator=nets[1].state_dict(),
        features=data.features,
        dataset=DatasetInfo(
            name=data.name,
            source=data.source,
            sha256=data.sha256,
            columns=data.features,
            n_windows=int(data.windows.shape[0]),
        ),
        seq_len=config.data.seq_len,
        freq=config.data.freq,
        data_min=data.scaler.data_min.tolist(),
        data_max=data.scaler.data_max.tolist(),
        phase=phase,
    )
