"""Request and response bodies of the v1 API (docs/api.md). Static bounds live here;
limits that depend on settings or on the model are checked in service/plans.py."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_SEED = 2**63 - 1


class _Body(BaseModel):
    # Strict: a body means what its JSON schema says. `"seed": false`, `"n": "5"` or
    # `"return_samples": 0` are refused (422) rather than quietly coerced.
    model_config = ConfigDict(extra="forbid", strict=True)


class ModelSummary(BaseModel):
    name: str
    version: int
    task: Literal["generate", "forecast", "image"]
    features: list[str]


class ModelList(BaseModel):
    models: list[ModelSummary]


class SamplesRequest(_Body):
    n: int = Field(default=1, ge=1, description="number of series")
    length: int | None = Field(
        default=None,
        ge=1,
        description="steps per series (default: the model's seq_len; for a model trained on "
        "a table, each series' length is drawn from the training entities' lengths)",
    )
    seed: int = Field(default=0, ge=0, le=MAX_SEED)
    condition: dict[str, str | bool | int | float] | None = Field(
        default=None,
        description='table models: static attributes to hold fixed, e.g. {"region": '
        '"north"}; the others are drawn from their learned distribution',
    )
    start: str | int | float | None = Field(
        default=None,
        description="table models: first timestamp of every series (ISO-8601, or a number for "
        "numeric time columns); default: drawn over the training data's span",
    )
    impute: bool = Field(
        default=False,
        description="table models: return generated values where the model places gaps, "
        "instead of leaving them empty",
    )


class SamplesResponse(BaseModel):
    model: str
    version: int
    features: list[str]
    samples: list[list[list[float | int | str | bool | None]]] = Field(
        description="n × length × features; numbers, except for table models, whose values "
        "follow each column's type (labels for categories, null for gaps)"
    )
    ids: list[int] | list[str] | None = Field(default=None, description="table models: ids")
    timestamps: list[list[str]] | list[list[float]] | None = Field(
        default=None, description="table models: each series' timestamps"
    )
    static: list[dict[str, Any]] | None = Field(
        default=None, description="table models: each series' static attributes"
    )


class DatasetRequest(SamplesRequest):
    n: int = Field(default=1000, ge=1, description="number of series (image models: images)")
    format: Literal["csv", "parquet", "ndjson"] = "csv"
    offset: int = Field(default=0, ge=0, le=2**40, description="id of the first series")
    compression: Literal["none", "gzip"] = Field(
        default="none", description="gzip for csv and ndjson, compressed as it streams"
    )
    label: int | None = Field(
        default=None,
        description="label image models: every image of this class (default: "
        "image i draws class i mod num_classes)",
    )
    prompt: str | None = Field(
        default=None,
        description="text image models: every image from this prompt (default: "
        "image i from 'a handwritten <class i mod num_classes>')",
    )


class DatasetChecksum(BaseModel):
    model: str
    version: int = Field(description="the model version that makes these bytes")
    sha256: str = Field(description="hex sha-256 of the bytes /datasets sends for this body")
    bytes: int = Field(description="their length")
    rows: int = Field(description="data rows in them (header not counted)")
    source: Literal["cache", "computed"] = Field(
        description="cache: kept from a completed download of this body by this process; "
        "computed: generated and hashed for this request"
    )


class Limits(BaseModel):
    """This service's request limits (its settings), so that a client can size its requests."""

    max_sample_values: int
    max_dataset_rows: int
    max_length: int
    max_forecast_series: int
    max_history: int
    max_num_samples: int
    max_forecast_values: int
    max_quantiles: int
    max_images: int
    max_body_bytes: int


class ImagesRequest(_Body):
    n: int = Field(default=8, ge=1, description="number of images")
    seed: int = Field(
        default=0, ge=0, le=MAX_SEED, description="image i of seed s is the same in every request"
    )
    prompt: str | None = Field(
        default=None,
        description="text models (required): what to draw, e.g. 'a handwritten "
        "seven'; words outside the vocabulary are read as <unk> and reported",
    )
    label: int | None = Field(
        default=None,
        description="label models: the class, 0 … num_classes-1 (default: image i "
        "draws class i mod num_classes)",
    )
    format: Literal["png", "json", "npy"] = Field(
        default="png",
        description="png: a grid, up to 8 images a row, each pixel 8×8 screen "
        "pixels (white ink); json: pixel units; npy: numpy .npy of uint8 (n, height, width)",
    )


class ImagesResponse(BaseModel):
    model: str
    version: int
    images: list[list[list[int]]] = Field(
        description="n × height × width, in the data's pixel units (0 … pixel_max), rounded"
    )
    labels: list[int] | None = Field(default=None, description="label models: each image's class")
    prompt: str | None = Field(default=None, description="text models: the prompt")
    unknown_words: list[str] = Field(
        default_factory=list, description="text models: prompt words read as <unk>"
    )


class SeriesIn(_Body):
    id: str = Field(min_length=1, max_length=256)
    values: list[float] = Field(min_length=1, description="history, oldest first")
    timestamps: list[str] | None = Field(
        default=None,
        description="optional ISO-8601 stamps, one per value; needed by models with calendar "
        "features; with them the forecast carries its horizon's stamps (models with a freq)",
    )
    covariates: dict[str, list[float]] | None = Field(
        default=None,
        description="models with known-future columns (manifest `covariates.future`): each "
        'column\'s values over the history, one per value in `values`, e.g. {"promo": [...]}',
    )
    future: dict[str, list[float]] | None = Field(
        default=None,
        description="models with known-future columns: each column's values for the `horizon` "
        'steps to forecast, e.g. {"promo": [0, 1, 1, ...]}',
    )
    static: dict[str, str | bool | int | float] | None = Field(
        default=None,
        description="models with static attributes (manifest `covariates.static`): the "
        "series' value of each, constant over history and horizon, e.g. "
        '{"store_type": "b", "size": 120}; a categorical one must be a category the model was '
        "trained on",
    )

    @field_validator("static", mode="before")
    @classmethod
    def _static_scalars(cls, value: Any) -> Any:
        """One readable message for a value that is no string, number or boolean (rather than
        one per member of the union)."""
        if isinstance(value, dict):
            for name, v in value.items():
                if v is None or not isinstance(v, str | bool | int | float):
                    raise ValueError(
                        f"static '{name}' must be a string, a number or a boolean, not "
                        f"{'null' if v is None else type(v).__name__}"
                    )
        return value


class ForecastRequest(_Body):
    series: list[SeriesIn] = Field(min_length=1)
    horizon: int | None = Field(default=None, ge=1, description="default: the model's horizon")
    quantiles: list[float] = Field(
        default_factory=lambda: [0.1, 0.5, 0.9],
        min_length=1,
        description="levels strictly between 0 and 1",
        # The validator below enforces this with a readable message; the schema says it too.
        json_schema_extra={
            "items": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}
        },
    )
    num_samples: int = Field(default=200, ge=1)
    seed: int = Field(default=0, ge=0, le=MAX_SEED)
    return_samples: bool = False
    offset: int = Field(
        default=0,
        ge=0,
        le=2**32,
        description="position of the first series in the seed's noise stream: series j of this "
        "request draws what series offset + j of one big request would, so a panel split into "
        "requests gives the same numbers",
    )

    @field_validator("quantiles")
    @classmethod
    def _quantiles_open_unit(cls, value: list[float]) -> list[float]:
        for q in value:
            if not 0.0 < q < 1.0:
                raise ValueError(f"quantile levels must lie strictly between 0 and 1, got {q}")
        return value


class SeriesForecast(BaseModel):
    id: str
    mean: list[float]
    quantiles: dict[str, list[float]]
    samples: list[list[float]] | None = None
    timestamps: list[str] | None = Field(
        default=None,
        description="the horizon's ISO-8601 stamps, when the series had timestamps and the "
        "model a frequency (advanced by its pandas offset: month ends stay month ends)",
    )


class ForecastResponse(BaseModel):
    model: str
    version: int
    forecasts: list[SeriesForecast]


class ReadyResponse(BaseModel):
    status: Literal["ready", "not ready"]
    models: list[dict[str, Any]]
    refused: dict[str, str]
    providers: list[str]
    available_providers: list[str]


class ReloadResponse(BaseModel):
    models: dict[str, int] = Field(description="served version of each model after the reload")
    refused: dict[str, str] = Field(description="'<name>/<version>' -> why it is not served")
    reopened: list[str] = Field(description="models whose ONNX session this reload (re)opened")


def quantile_key(q: float) -> str:
    """The shortest decimal form of the float, as docs/api.md fixes: 0.5 -> "0.5"."""
    return repr(float(q))
