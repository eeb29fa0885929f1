"""Service settings, read from the environment (prefix `RNNGAN_`) or a `.env` file.

Built in `create_app`, never at import time, so tests can pass their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RNNGAN_", env_file=".env", extra="ignore")

    models_dir: Path = Field(default=Path("models"), description="the model repository")
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto",
        description="auto: CUDA when onnxruntime-gpu can use it, else CPU; cuda: ask for CUDA "
        "(falls back to CPU with a warning)",
    )
    ort_intra_op_threads: int = Field(default=1, ge=0, description="ONNX Runtime threads per call")
    ort_inter_op_threads: int = Field(default=1, ge=0)
    ort_allow_spinning: bool = Field(
        default=False,
        description="let ORT threads spin-wait (fast alone, wasteful on shared cores)",
    )
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated bearer keys; empty means no auth"
    )
    api_keys_file: Path | None = Field(default=None, description="file with one key per line")

    # Limits, checked before any work is done.
    max_sample_values: int = Field(
        default=2_000_000, ge=1, description="n × length × features for one /samples request"
    )
    max_dataset_rows: int = Field(
        default=100_000_000, ge=1, description="n × length for one /datasets request"
    )
    dataset_chunk_series: int = Field(
        default=4096, ge=1, description="series generated and written per streamed chunk"
    )
    max_forecast_series: int = Field(default=256, ge=1)
    max_images: int = Field(default=1024, ge=1, description="images per /images request")
    max_history: int = Field(default=100_000, ge=1, description="values per series")
    max_num_samples: int = Field(default=2000, ge=1)
    max_forecast_values: int = Field(
        default=4_000_000, ge=1, description="series × num_samples × horizon per request"
    )
    max_quantiles: int = Field(default=99, ge=1)
    max_length: int = Field(default=10_000, ge=1, description="longest generated series")
    max_body_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1,
        description="largest request body, checked before it is parsed (413 above)",
    )

    # Memory: what one request and all requests together may hold in inference.
    max_call_rows: int = Field(
        default=2048,
        ge=1,
        description="generator rows (series, or series × sample paths) per ONNX Runtime call; "
        "bigger requests run in chunks of this many, with the same results",
    )
    max_inflight_rows: int = Field(
        default=8192,
        ge=1,
        description="generator rows in ONNX Runtime calls at once, over all requests (bounds the "
        "peak memory); more wait up to queue_timeout_s, then get 503 with Retry-After",
    )
    queue_timeout_s: float = Field(
        default=30.0, ge=0, description="longest wait for inference capacity before a 503"
    )
    ort_cpu_arena: bool = Field(
        default=False,
        description="ONNX Runtime's CPU memory arena: a little faster, but it keeps the peak "
        "of every call for the life of the process",
    )

    # Operations.
    batch_max_rows: int = Field(
        default=256,
        ge=0,
        description="micro-batching: generator rows (series × sample paths) gathered into one "
        "ONNX Runtime call (0: off)",
    )
    batch_max_wait_ms: float = Field(
        default=2.0,
        ge=0,
        le=1000,
        description="micro-batching: longest wait for company, only while others are in flight",
    )
    max_pinned_versions: int = Field(
        default=2,
        ge=0,
        description="versions other than the served one kept open for the pinned routes "
        "(/v1/models/{name}/versions/{v}/...), least recently used closed first; 0: opened per "
        "request",
    )
    reload_interval_s: float = Field(
        default=10.0,
        ge=0,
        description="seconds between scans of models_dir for new or changed versions; 0 disables",
    )
    shutdown_timeout_s: float = Field(
        default=30.0,
        ge=0,
        description="on SIGTERM, how long in-flight requests (and streams) may take to finish",
    )
    log_format: Literal["json", "text"] = Field(
        default="json", description="json: one object per line; text: for people at a terminal"
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(default="info")

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [k.strip() for k in value.split(",") if k.strip()]
        return value

    def all_api_keys(self) -> list[str]:
        keys = list(self.api_keys)
        if self.api_keys_file is not None:
            lines = self.api_keys_file.read_text(encoding="utf-8").splitlines()
            keys.extend(k.strip() for k in lines if k.strip() and not k.startswith("#"))
        return keys
