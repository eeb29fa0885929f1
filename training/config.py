"""Run configuration: frozen, keyword-only dataclasses read from TOML (`configs/*.toml`).

Unknown keys are errors that name the key and list the known ones. The whole config is saved
in each checkpoint and in the exported manifest. The config `rnngan train --data` builds for
the user's own table is training/config_tables.py's `table_config`.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from training.config_images import ImageConfig


class ConfigError(ValueError):
    pass


@dataclass(frozen=True, kw_only=True)
class DataConfig:
    dataset: Literal[
        "sines", "stocks", "energy", "etth1", "etth1_ot", "traffic_a5m", "table", "digits"
    ]
    path: str | None = None  # CSV (or, for `table`, Parquet) file, relative to the working dir
    seq_len: int = 24  # generate: window length (table: 0 picks it from the entity lengths)
    n_series: int = 10_000  # sines: how many series to draw
    target: str = "OT"  # forecast: column to forecast
    context_len: int = 168  # forecast: history the model reads
    horizon: int = 24  # forecast: steps it emits
    season: int = 24  # forecast: seasonal period (table: 0 infers it from the time column)
    train_end: int = 8640  # forecast: rows [0, train_end) train
    val_end: int = 11520  # [train_end, val_end) validation
    test_end: int = 14400  # [val_end, test_end) test
    freq: str | None = None
    # dataset = "table": the user's own long table, one row per (entity, time)
    id_col: str | None = None  # entity id column
    time_col: str | None = None  # timestamp column (none: rows in file order)
    static: tuple[str, ...] | None = None  # static columns (None: every per-entity constant)
    types: tuple[str, ...] = ()  # type overrides, "column=kind"
    bounds: tuple[str, ...] = ()  # declared bounds, "column=low:high"
    columns: tuple[str, ...] = ()  # columns to model (empty: all but id and time)
    stride: int = 1  # window stride over each entity
    val_share: float = 0.15  # table forecast: share of each entity's rows for validation
    test_share: float = 0.15  # table forecast: share of each entity's last rows for test
    # table forecast: covariates fed for history and horizon (docs/forecast.md, Covariates)
    future_cols: tuple[str, ...] = ()  # numeric columns known in advance (sent as `future`)
    calendar: tuple[str, ...] = ()  # hour, weekday, month, yearday, or ["auto"] (from the freq)
    # table forecast: static attribute columns (one value per entity; sent as `static`), fed as
    # time-constant covariate channels: names, or ["auto"] (the columns inferred static)
    static_cols: tuple[str, ...] = ()
    # their channels, resolved when training starts: "column=label" (a categorical's one-hot
    # channel per label) or "column" (a numeric one, standardised in the graph)
    static_channels: tuple[str, ...] = ()
    # table forecast: take histories down to one season (training/families/panel_forecast.py)
    short_histories: bool = False


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    # generate: the GAN family; forecast: any value but "forgan_v1" is the default forecaster
    # (training/families/panel_forecast.py), "forgan_v1" the ForGAN-class model of before #16
    kind: Literal["rcgan", "timegan", "forgan", "forgan_v1", "image", "text_image"] = "rcgan"
    cell: Literal["gru", "lstm"] = "gru"
    latent_dim: int = 4
    hidden_size: int = 24
    num_layers: int = 2
    disc_hidden_size: int = 24
    disc_num_layers: int = 2
    patch_len: int = 1  # forecast: history values per condition-GRU step (divides context_len)
    disc_context: int = 24  # forecast: history steps the discriminator sees before the future
    noise_skip: bool = False  # timegan: each step's noise also reaches the output (observation)
    # own-table generators: "coupled" draws categories and flags inside the generator and computes
    # each step's numbers from them; "independent" (before) leaves the draws to the sampler
    # (training/families/table_gan.py)
    table_head: Literal["independent", "coupled"] = "independent"


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    steps: int = 2000
    batch_size: int = 128
    lr_g: float = 1e-3
    lr_d: float = 1e-3
    adv_weight: float = 1.0  # weight of the adversarial term
    moment_weight: float = 0.0  # generate: match feature mean/std (TimeGAN eq. 9's moment term)
    # tables, timegan: match each channel's step-to-step change (std of first differences), real vs
    # synthetic: a generator that smooths the noise away (or adds jitter) pays for it
    diff_weight: float = 0.0
    # timegan and own-table generators, real vs synthetic (0: off; training/window_terms.py): each
    # channel's within-window autocorrelation at lags 1 … acf_lags (< the window's length; tables:
    # numeric channels, where windows are cut from entities longer than one); the channels'
    # correlations over all steps and within windows (xcorr); each channel's within-window
    # spread on a log scale (spread; tables: numeric channels)
    acf_weight: float = 0.0
    acf_lags: int = 24
    xcorr_weight: float = 0.0
    spread_weight: float = 0.0
    diff_relative: bool = False  # timegan: that term on log roughness, every channel alike
    data_adv_weight: float = 0.0  # timegan: weight of a discriminator on the series (0: off)
    crps_weight: float = 0.0  # forecast: sample CRPS (energy score) term
    d_steps: int = 1  # discriminator updates per generator update
    embed_steps: int = 0  # timegan: phase 1 (embedder + recovery) steps before `steps`
    supervised_steps: int = 0  # timegan: phase 2 (supervisor) steps before `steps`
    g_steps: int = 2  # timegan: generator/embedder updates per joint step
    gamma: float = 1.0  # timegan: weight of the adversarial term on the generator's own latents
    supervised_weight: float = 100.0  # timegan: weight of sqrt(L_S) in the generator loss
    d_threshold: float = 0.15  # timegan: discriminator updated only while its loss is above
    ema_decay: float = 0.0  # timegan: EMA of generator weights (0: off)
    log_every: int = 100
    checkpoint_every: int = 1000
    select_every: int = 0  # score on validation every N steps, keep the best (0: the last)
    select_samples: int = 50  # forecast: sample paths per validation window when selecting
    # own-table generators: the generator runs as many steps as a training window's start in its
    # entity, at most this many, before the window it is compared on (0: every window from the
    # first step), so that it keeps generating like the data past one window's length
    burn_in: int = 0
    budget_s: float = 0.0  # stop training after this many seconds (0: run every step)
    patience: int = 0  # stop after this many validations without a better score (0: never)
    threads: int = 2  # torch intra-op threads (set with OMP_WAIT_POLICY=PASSIVE)


# The statsforecast baselines `eval.baselines` can name, each fit with the data's season (an
# AutoETS above a season of 24 also brings MSTL-AutoETS: training/evaluate/scores.py).
MSTL_ETS = "MSTL-AutoETS"
BASELINES = ("AutoETS", "AutoARIMA", "AutoTheta", "AutoCES", MSTL_ETS)


@dataclass(frozen=True, kw_only=True)
class EvalConfig:
    runs: int = 3  # post-hoc classifier runs (mean ± std)
    disc_steps: int = 2000
    pred_steps: int = 5000
    batch_size: int = 128
    num_samples: int = 200  # forecast: sample paths per origin
    baselines: tuple[str, ...] = ("AutoETS",)  # forecast: statsforecast models, same windows
    baseline_input_size: int = 0  # forecast: rows the baselines fit on (0: all history)
    calibrate: bool = True  # forecast: fit a spread scale to nominal coverage on validation

    def __post_init__(self) -> None:
        unknown = [b for b in self.baselines if b not in BASELINES]
        if unknown:
            raise ConfigError(
                f"eval.baselines: unknown {unknown}; choose from {', '.join(BASELINES)}"
            )


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    name: str
    task: Literal["generate", "forecast", "image"]
    version: int = 1
    seed: int = 0
    description: str = ""
    out_dir: str = "runs"
    data: DataConfig
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    image: ImageConfig = field(default_factory=ImageConfig)

    def __post_init__(self) -> None:
        if self.data.dataset != "table" and self.data.seq_len < 1:
            raise ConfigError("data.seq_len must be at least 1")
        if self.data.dataset == "table":
            if not self.data.path or not self.data.id_col:
                raise ConfigError("a table data set needs data.path and data.id_col")
            if not (0 < self.data.val_share and 0 < self.data.test_share) or (
                self.data.val_share + self.data.test_share >= 0.9
            ):
                raise ConfigError("data.val_share and data.test_share: each > 0, together < 0.9")
            if self.data.seq_len < 0:
                raise ConfigError("data.seq_len must be 0 (automatic) or more")
            if self.data.stride < 1:
                raise ConfigError("data.stride must be at least 1")
        if self.data.future_cols or self.data.calendar or self.data.static_cols:
            if self.task != "forecast" or self.data.dataset != "table":
                raise ConfigError(
                    "data.future_cols, data.calendar and data.static_cols are for forecasting a "
                    "column of your own table (task = 'forecast', data.dataset = 'table')"
                )
            if self.model.kind == "forgan_v1":
                raise ConfigError("model.kind = 'forgan_v1' takes no covariates")
            known = {"auto", "hour", "weekday", "month", "yearday"}
            unknown = [c for c in self.data.calendar if c not in known]
            if unknown or ("auto" in self.data.calendar and len(self.data.calendar) > 1):
                raise ConfigError(
                    f"data.calendar: {list(self.data.calendar)}; give ['auto'] or names from "
                    "hour, weekday, month, yearday"
                )
            if self.data.target in self.data.future_cols:
                raise ConfigError("data.future_cols must not include the target")
            statics = self.data.static_cols
            if "auto" in statics and len(statics) > 1:
                raise ConfigError(f"data.static_cols: {list(statics)}; give ['auto'] or names")
            if self.data.target in statics or set(statics) & set(self.data.future_cols):
                raise ConfigError("data.static_cols must not include the target or future columns")
        own_forecaster = self.task == "forecast" and self.data.dataset == "table"
        if self.data.short_histories and (not own_forecaster or self.model.kind == "forgan_v1"):
            raise ConfigError(
                "data.short_histories is for the default forecaster of your own table "
                "(task = 'forecast', data.dataset = 'table', not model.kind = 'forgan_v1')"
            )
        if self.task == "forecast" and self.data.context_len % self.model.patch_len:
            raise ConfigError(
                f"model.patch_len={self.model.patch_len} must divide "
                f"data.context_len={self.data.context_len}"
            )
        if self.task == "forecast" and not 0 < self.model.disc_context <= self.data.context_len:
            raise ConfigError("model.disc_context must be in [1, data.context_len]")
        if self.train.burn_in < 0:
            raise ConfigError("train.burn_in must be 0 (off) or more")
        if self.train.acf_weight and self.train.acf_lags < 1:
            raise ConfigError("train.acf_lags must be at least 1")
        for name in ("acf_weight", "xcorr_weight", "spread_weight"):
            if getattr(self.train, name) < 0:
                raise ConfigError(f"train.{name} must be 0 (off) or more")

    @property
    def run_dir(self) -> Path:
        return Path(self.out_dir) / self.name

    def to_dict(self) -> dict[str, Any]:
        raw = dataclasses.asdict(self)
        if self.task != "image":  # only image runs carry it: other checkpoints keep their bytes
            del raw["image"]
        return raw


def _check_type(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin is Literal:
        if value not in typing.get_args(hint):
            raise ConfigError(f"{where}: {value!r} is not one of {list(typing.get_args(hint))}")
        return value
    if origin in (types.UnionType, typing.Union):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _check_type(value, inner[0], where)
    if origin is tuple:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: expected a list of strings")
        return tuple(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(hint, type) and not isinstance(value, hint):
        raise ConfigError(f"{where}: expected {hint.__name__}, got {type(value).__name__}")
    if hint is int and isinstance(value, bool):
        raise ConfigError(f"{where}: expected int, got bool")
    return value


def from_dict(cls: type, raw: dict[str, Any], where: str = "") -> Any:
    """Build dataclass `cls` from a mapping, rejecting unknown keys and wrong types."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where or 'config'}: expected a table")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(repr(where + k) for k in unknown)}; "
            f"known keys{' in [' + where.rstrip('.') + ']' if where else ''}: {', '.join(fields)}"
        )
    kwargs: dict[str, Any] = {}
    for name, value in raw.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = from_dict(hint, value, f"{where}{name}.")  # type: ignore[arg-type]
        else:
            kwargs[name] = _check_type(value, hint, f"{where}{name}")
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required key is missing
        raise ConfigError(f"{where or 'config'}: {exc}") from None


def load_config(path: str | Path) -> RunConfig:
    with Path(path).open("rb") as fh:
        raw = tomllib.load(fh)
    config: RunConfig = from_dict(RunConfig, raw)
    return config
