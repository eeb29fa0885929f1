"""The model manifest: the one schema shared by the trainer (which writes it) and the service
(which reads it). Pydantic only, so the service needs no torch.

`models/<name>/<version>/manifest.json` is validated through `Manifest`; its JSON schema is
committed as `rnngan/core/manifest.schema.json` (regenerate with `make schema`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_serializer, model_validator

from rnngan.core import images as img
from rnngan.core.calendar import CALENDAR_PERIODS, calendar_columns
from rnngan.core.tables.spec import TableSpec

SCHEMA_VERSION = 1
MODEL_FILE = "model.onnx"
MANIFEST_FILE = "manifest.json"

Task = Literal["generate", "forecast", "image"]

# The ONNX graph contract for each task (names are fixed; axes marked -1 are dynamic).
#   generate: noise (B, T, latent_dim) -> samples (B, T, F) in the data's original units
#   forecast: history (S, C) + noise (S, N, H, latent_dim) -> forecast (S, N, H): N sample
#             paths per series, in each history's units
GRAPH_IO: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "generate": (("noise",), ("samples",)),
    "forecast": (("history", "noise"), ("forecast",)),
}
# A forecast model with covariates (`Manifest.covariates`) also takes them, for the history and
# the horizon: history (S, C) + noise (S, N, H, latent_dim) + covariates (S, C + H, K) ->
# forecast (S, N, H); K = the calendar columns (sin, cos of each feature) then the future columns.
FORECAST_COVARIATE_GRAPH_IO: tuple[tuple[str, ...], tuple[str, ...]] = (
    ("history", "noise", "covariates"),
    ("forecast",),
)
# A generate model trained on the user's own table (`Manifest.table`) also takes the static
# condition: noise (B, T, latent_dim) + condition (B, C) -> samples (B, T, D), D model channels
# in [0, 1] that the service decodes to the user's columns (rnngan/core/tables/codec.py).
TABLE_GRAPH_IO: tuple[tuple[str, ...], tuple[str, ...]] = (("noise", "condition"), ("samples",))
# An image model's graph, by its conditioning (`Manifest.image`): noise (n, height, latent_dim)
# float32 [+ label (n, num_classes) float32 one-hot | + tokens (n, L) int64] -> images
# (n, height, width) float32 in [0, 1] (times `pixel_max` is the data's pixel units).
IMAGE_GRAPH_IO: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "none": (("noise",), ("images",)),
    "label": (("noise", "label"), ("images",)),
    "text": (("noise", "tokens"), ("images",)),
}


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Scaler(_Frozen):
    """How model space maps to real units: `real = scaled * (data_max - data_min) + data_min`."""

    kind: Literal["minmax", "per_series_standard", "table"] = Field(
        description="minmax: one range per feature, fit on the training split; "
        "per_series_standard: each request's history is standardised by its own mean and std; "
        "table: per column, as the manifest's `table` says"
    )
    data_min: list[float] | None = Field(default=None, description="per-feature minimum (minmax)")
    data_max: list[float] | None = Field(default=None, description="per-feature maximum (minmax)")
    applied_in_graph: bool = Field(
        default=True, description="true when model.onnx already scales in and out of real units"
    )

    @model_validator(mode="after")
    def _check_ranges(self) -> Scaler:
        if self.kind == "minmax":
            if self.data_min is None or self.data_max is None:
                raise ValueError("a minmax scaler needs data_min and data_max")
            if len(self.data_min) != len(self.data_max):
                raise ValueError("data_min and data_max must have the same length")
        return self


class Calibration(_Frozen):
    """Applied by the service to forecast sample paths (S, N, H): each step's spread around the
    sample median is multiplied by `spread_scale`, the factor whose 80 % interval coverage on
    the validation windows is closest to 0.80 (`fit_on` says which windows)."""

    kind: Literal["spread_scale"] = "spread_scale"
    spread_scale: float = Field(gt=0, le=100)
    fit_on: str = Field(description="the data the factor was fit on")

    def apply(self, paths: np.ndarray) -> np.ndarray:
        median = np.median(paths, axis=1, keepdims=True)
        return (median + self.spread_scale * (paths - median)).astype(paths.dtype)


class OnnxInfo(_Frozen):
    file: str = Field(default=MODEL_FILE, description="file name inside the version directory")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the ONNX file")
    opset: int = Field(ge=7)
    inputs: list[str]
    outputs: list[str]


class DatasetInfo(_Frozen):
    name: str = Field(description="data set name, e.g. sines, ETTh1")
    source: str = Field(description="file name it was read from, or 'generated'")
    sha256: str | None = Field(default=None, description="sha256 of the source file")
    columns: list[str] = Field(description="columns used")
    train_rows: list[int] | None = Field(
        default=None, description="[start, end) rows of the training split, when split by time"
    )
    n_windows: int = Field(ge=0, description="training windows the model saw")


class StaticAttribute(_Frozen):
    """A static attribute of the training table (one value per entity) that conditions a
    forecast: given per series in the request (`static`), it enters the graph as time-constant
    covariate channels, a categorical one as a one-hot over `categories`, a numeric one as its
    value (the graph standardises it)."""

    name: str = Field(min_length=1)
    kind: Literal["categorical", "numeric"]
    categories: list[str] | None = Field(
        default=None, description="categorical: the labels seen in training, in channel order"
    )

    @property
    def channels(self) -> list[str]:
        """Its covariate channels: `<name>=<label>` per category, or `<name>`."""
        if self.kind == "categorical":
            return [f"{self.name}={c}" for c in self.categories or []]
        return [self.name]

    @model_validator(mode="after")
    def _check(self) -> StaticAttribute:
        if "=" in self.name:
            raise ValueError(f"static attribute name {self.name!r} must not contain '='")
        if (self.kind == "categorical") != bool(self.categories):
            raise ValueError(f"static attribute '{self.name}': categories go with categorical")
        return self


class Covariates(_Frozen):
    """What a forecast model reads besides the history: calendar features the service computes
    from the request's timestamps (rnngan/core/calendar.py; horizon stamps advance by `freq`),
    the user's columns known in advance, given per series in the request (`covariates` for the
    history, `future` for the horizon), and static attributes, given per series (`static`),
    constant over the history and horizon. The graph standardises the future columns and the
    numeric static attributes itself."""

    calendar: list[str] = Field(
        default_factory=list,
        description=f"calendar features, each as sin and cos: {', '.join(CALENDAR_PERIODS)}",
    )
    future: list[str] = Field(
        default_factory=list, description="the user's known-future columns, in graph order"
    )
    static: list[StaticAttribute] = Field(
        default_factory=list,
        description="static attributes (one value per series), in graph order; absent: none",
    )

    @property
    def columns(self) -> list[str]:
        """The graph's covariate channels in order: `<feature>_sin`, `<feature>_cos`, then the
        future columns, then the static attributes' channels."""
        statics = [c for a in self.static for c in a.channels]
        return calendar_columns(self.calendar) + list(self.future) + statics

    @model_serializer(mode="wrap")
    def _drop_empty_static(self, handler: Any) -> Any:
        """Models without static attributes keep the section they had before `static` existed
        (the same manifest bytes and model info)."""
        data = handler(self)
        if isinstance(data, dict) and not data.get("static"):
            data.pop("static", None)
        return data

    @model_validator(mode="after")
    def _check(self) -> Covariates:
        if not self.calendar and not self.future and not self.static:
            raise ValueError(
                "a covariates section names at least one calendar, future or static column"
            )
        names = [a.name for a in self.static]
        if len(set(names)) != len(names) or set(names) & set(self.future):
            raise ValueError("static attributes must be distinct and not future columns")
        unknown = [c for c in self.calendar if c not in CALENDAR_PERIODS]
        if unknown:
            raise ValueError(f"unknown calendar features {unknown}")
        if len(set(self.columns)) != len(self.columns):
            raise ValueError("covariate names must be distinct")
        return self


class ImageSpec(_Frozen):
    """What an image model draws and how it is conditioned (task `image`)."""

    height: int = Field(ge=1, description="image rows (the graph's noise has one step per row)")
    width: int = Field(ge=1)
    channels: Literal[1] = 1
    pixel_max: float = Field(gt=0, description="the data's pixel units are 0..pixel_max")
    conditioning: Literal["none", "label", "text"] = Field(
        description="none: noise only; label: a one-hot class; text: a tokenised prompt"
    )
    num_classes: int | None = Field(default=None, ge=1, description="label/text: classes")
    class_names: list[str] | None = Field(default=None, description="label i's name")
    vocab: list[str] | None = Field(default=None, description="text: token id -> word")
    max_prompt_len: int | None = Field(default=None, ge=1, description="text: tokens per prompt")
    pad_id: int | None = Field(default=None, ge=0, description="text: right-padding token id")
    unk_id: int | None = Field(default=None, ge=0, description="text: unknown-word token id")
    tokenizer: str | None = Field(default=None, description="text: how a prompt becomes ids")

    @classmethod
    def digits(cls, conditioning: str) -> ImageSpec:
        """The spec of a model trained on the 8x8 digits (rnngan/core/images.py)."""
        text = conditioning == "text"
        return cls.model_validate(
            {
                "height": img.IMAGE_SIZE,
                "width": img.IMAGE_SIZE,
                "pixel_max": img.PIXEL_MAX,
                "conditioning": conditioning,
                "num_classes": img.NUM_CLASSES if conditioning != "none" else None,
                "class_names": list(img.DIGIT_WORDS) if conditioning != "none" else None,
                "vocab": list(img.VOCAB) if text else None,
                "max_prompt_len": img.MAX_PROMPT_LEN if text else None,
                "pad_id": img.PAD_ID if text else None,
                "unk_id": img.UNK_ID if text else None,
                "tokenizer": img.TOKENIZER_RULE if text else None,
            }
        )

    @model_validator(mode="after")
    def _check_conditioning(self) -> ImageSpec:
        if self.conditioning != "none" and self.num_classes is None:
            raise ValueError("a label or text image model needs num_classes")
        if self.class_names is not None and len(self.class_names) != self.num_classes:
            raise ValueError("class_names needs one name per class")
        if self.conditioning == "text":
            if not self.vocab or self.max_prompt_len is None:
                raise ValueError("a text image model needs vocab and max_prompt_len")
            if self.pad_id is None or self.unk_id is None:
                raise ValueError("a text image model needs pad_id and unk_id")
        return self


class Manifest(_Frozen):
    """Everything the service needs to serve one exported generator."""

    schema_version: Literal[1] = 1  # SCHEMA_VERSION
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$")
    version: int = Field(ge=1)
    task: Task
    description: str = ""
    features: list[str] = Field(min_length=1)
    freq: str | None = Field(
        default=None, description="pandas frequency alias, e.g. 'h', 'D', 'B', 'MS', 'ME'"
    )
    seq_len: int | None = Field(default=None, ge=1, description="window length trained on")
    context_len: int | None = Field(
        default=None, ge=1, description="history values a forecast needs (the most recent are used)"
    )
    horizon: int | None = Field(default=None, ge=1, description="largest forecast horizon")
    min_history: int | None = Field(
        default=None,
        ge=1,
        description="forecast: the shortest history the model takes; a history shorter than "
        "context_len (down to this) is padded on the left with NaN, which the graph fills "
        "(absent: every history needs context_len values)",
    )
    season: int | None = Field(default=None, ge=1, description="seasonal period (forecast)")
    latent_dim: int = Field(ge=1, description="noise values per time step")
    scaler: Scaler
    onnx: OnnxInfo
    training: dict[str, Any] = Field(description="the training config, as trained")
    dataset: DatasetInfo
    calibration: Calibration | None = Field(
        default=None, description="forecast: post-processing fit on validation data"
    )
    metrics: dict[str, Any] = Field(
        default_factory=dict, description="quality measured on held-out data"
    )
    table: TableSpec | None = Field(
        default=None, description="generate models trained on a user's own long table"
    )
    image: ImageSpec | None = Field(default=None, description="image models (task `image`)")
    covariates: Covariates | None = Field(
        default=None, description="forecast models that read calendar or known-future columns"
    )
    created_by: str = Field(default="", description="rnngan version that exported the model")

    @model_validator(mode="after")
    def _check_task_fields(self) -> Manifest:
        if self.task == "generate" and self.seq_len is None:
            raise ValueError("a generate model needs seq_len")
        if self.task == "forecast":
            if self.context_len is None or self.horizon is None:
                raise ValueError("a forecast model needs context_len and horizon")
            if len(self.features) != 1:
                raise ValueError("a forecast model is univariate: exactly one feature")
            if self.min_history is not None and not (
                (self.season or 1) <= self.min_history <= self.context_len
            ):
                raise ValueError("min_history must lie between season and context_len")
        if (self.task == "image") != (self.image is not None):
            raise ValueError("an image section goes with task 'image', and only with it")
        if self.image is not None:
            expected_in, expected_out = IMAGE_GRAPH_IO[self.image.conditioning]
        else:
            expected_in, expected_out = GRAPH_IO[self.task]
        if self.covariates is not None:
            if self.task != "forecast":
                raise ValueError("a covariates section is for forecast models")
            if self.covariates.calendar and not self.freq:
                raise ValueError("calendar covariates need the model's freq")
            expected_in, expected_out = FORECAST_COVARIATE_GRAPH_IO
        if self.table is not None:
            if self.task != "generate":
                raise ValueError("a table section is for generate models")
            expected_in, expected_out = TABLE_GRAPH_IO
            if self.features != [c.name for c in self.table.dynamic]:
                raise ValueError("features must be the table's time-varying columns, in order")
            if self.scaler.kind != "table":
                raise ValueError("a table model's scaler kind is 'table'")
        if tuple(self.onnx.inputs) != expected_in or tuple(self.onnx.outputs) != expected_out:
            raise ValueError(
                f"a {self.task} model's graph must have inputs {list(expected_in)} "
                f"and outputs {list(expected_out)}"
            )
        if self.scaler.kind == "minmax" and len(self.scaler.data_min or []) != len(self.features):
            raise ValueError("the scaler must have one range per feature")
        return self

    @classmethod
    def read(cls, path: Path) -> Manifest:
        return cls.model_validate_json(path.read_text(encoding="utf-8"))

    def write(self, path: Path) -> None:
        path.write_text(self.to_json(), encoding="utf-8")

    def to_json(self) -> str:
        data = self.model_dump(mode="json")
        if data["table"] is None:  # only models trained on a user's table carry one
            del data["table"]
        if data["image"] is None:  # only image models carry one
            del data["image"]
        if data["covariates"] is None:  # only forecasters with covariates carry one
            del data["covariates"]
        if data["min_history"] is None:  # only forecasters trained for short histories
            del data["min_history"]
        return json.dumps(data, indent=2, sort_keys=True) + "\n"


def file_sha256(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def json_schema() -> str:
    """The manifest's JSON schema as committed in rnngan/core/manifest.schema.json."""
    return json.dumps(Manifest.model_json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":  # `python -m rnngan.core.manifest > rnngan/core/manifest.schema.json`
    print(json_schema(), end="")
