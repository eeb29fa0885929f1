"""Every 413 and 422 of a /forecast request (re-exported by service/plans/__init__.py).

A forecaster with covariates (`manifest.covariates`, docs/forecast.md) also needs, per series:
- calendar features: `timestamps` (one per history value); the horizon's stamps follow the last
  one by the model's pandas frequency (`manifest.freq`), and rnngan/core/calendar.py computes the
  features for both, as the trainer did;
- known-future columns: `covariates` (each column's values for the history, one per value in
  `values`) and `future` (each column's values for the `horizon` steps).
- static attributes: `static`, the series' value of each (a categorical one: one of the
  categories trained on, else a 422 naming them; a numeric one: a number), repeated over the
  history and the horizon.
A model without covariates answers `covariates`, `future` or `static` with a 422 rather than
ignoring them. Whatever the model, a series with `timestamps` gets its horizon's stamps back
when the model has a frequency (month ends stay month ends, business days skip weekends).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from rnngan.core.calendar import CalendarError, calendar_values, next_stamps, parse_stamps
from rnngan.core.manifest import Covariates
from service.config import Settings
from service.errors import InvalidInput, TooLarge
from service.registry import LoadedModel
from service.schemas import ForecastRequest, SeriesIn

_MAX_ABS = 1e30  # beyond this a float32 graph input is not a number it can use


@dataclass(frozen=True)
class ForecastPlan:
    """A checked /forecast request: each series' most recent `context_len` values, its
    covariates for the history and the horizon (models that read them) and its horizon's
    timestamps (series that sent timestamps, models with a frequency)."""

    ids: list[str]
    histories: np.ndarray  # (S, context_len) float64
    horizon: int
    num_samples: int
    quantiles: list[float]
    seed: int
    return_samples: bool
    offset: int = 0  # series j draws the noise of position offset + j
    covariates: np.ndarray | None = None  # (S, context_len + horizon, K) float32
    timestamps: list[list[str] | None] | None = None  # per series, the horizon's stamps

    @property
    def values(self) -> int:
        """Generated values: series × num_samples × horizon."""
        return len(self.ids) * self.num_samples * self.horizon


def plan_forecast(model: LoadedModel, body: ForecastRequest, settings: Settings) -> ForecastPlan:
    manifest = model.manifest
    assert manifest.context_len is not None and manifest.horizon is not None
    horizon = body.horizon or manifest.horizon
    if horizon > manifest.horizon:
        raise InvalidInput(
            f"horizon {horizon} is beyond this model's limit of {manifest.horizon} steps."
        )
    if len(body.series) > settings.max_forecast_series:
        raise TooLarge(
            f"{len(body.series)} series in one request is over this service's limit of "
            f"{settings.max_forecast_series}."
        )
    if body.num_samples > settings.max_num_samples:
        raise TooLarge(
            f"num_samples {body.num_samples} is over this service's limit of "
            f"{settings.max_num_samples}."
        )
    if len(body.quantiles) > settings.max_quantiles:
        raise TooLarge(
            f"{len(body.quantiles)} quantiles is over this service's limit of "
            f"{settings.max_quantiles}."
        )
    values = len(body.series) * body.num_samples * horizon
    if values > settings.max_forecast_values:
        raise TooLarge(
            f"series × num_samples × horizon = {values} is over this service's limit of "
            f"{settings.max_forecast_values}."
        )
    context = manifest.context_len
    histories, covariates, stamps = [], [], []
    for s in body.series:
        histories.append(_history(s, context, manifest.min_history, settings.max_history))
        horizon_stamps = _horizon_stamps(s, manifest.freq, horizon)
        stamps.append(horizon_stamps)
        if s.static is not None and (manifest.covariates is None or not manifest.covariates.static):
            raise InvalidInput(
                f"series '{s.id}': model '{model.name}' reads no static attributes (it was "
                "trained without --static-cols); drop 'static'."
            )
        if manifest.covariates is not None:
            rows = _covariates(
                s, manifest.covariates, min(context, len(s.values)), horizon, horizon_stamps
            )
            # A short history's rows: its first row repeated on the left, as the trainer pads.
            covariates.append(np.pad(rows, ((context + horizon - len(rows), 0), (0, 0)), "edge"))
        elif s.covariates is not None or s.future is not None:
            raise InvalidInput(
                f"series '{s.id}': model '{model.name}' reads no covariates (it was trained "
                "without --future-cols); drop 'covariates' and 'future'."
            )
    return ForecastPlan(
        ids=[s.id for s in body.series],
        histories=np.stack(histories),
        horizon=horizon,
        num_samples=body.num_samples,
        quantiles=body.quantiles,
        seed=body.seed,
        return_samples=body.return_samples,
        offset=body.offset,
        covariates=np.stack(covariates) if covariates else None,
        timestamps=stamps if any(t is not None for t in stamps) else None,
    )


def _history(
    series: SeriesIn, context_len: int, min_history: int | None, max_history: int
) -> np.ndarray:
    """The most recent `context_len` values of a checked history; a shorter one (at least
    `min_history` values, models trained for short histories) padded on the left with NaN,
    which the graph fills."""
    n = len(series.values)
    if n > max_history:
        raise TooLarge(
            f"series '{series.id}': history has {n} values, over this service's limit of "
            f"{max_history}."
        )
    least = min_history or context_len
    if n < least:
        raise InvalidInput(
            f"series '{series.id}': history has {n} values; this model needs at least "
            f"{least}"
            + (f" (one season; it reads up to {context_len})" if least < context_len else "")
            + "."
        )
    values = np.asarray(series.values, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise InvalidInput(
            f"series '{series.id}': history has NaN or infinite values (first at index "
            f"{int(bad[0])}); fill or drop them before forecasting."
        )
    if np.abs(values).max() > _MAX_ABS:
        raise InvalidInput(f"series '{series.id}': history values are too large (|x| > 1e30).")
    if series.timestamps is not None:
        if len(series.timestamps) != n:
            raise InvalidInput(
                f"series '{series.id}': {len(series.timestamps)} timestamps for {n} values; "
                "give one per value or none."
            )
        _check_stamps(series, series.timestamps[-context_len:])
    if n < context_len:
        return np.concatenate([np.full(context_len - n, np.nan), values])
    return values[-context_len:]


def _check_stamps(series: SeriesIn, stamps: list[str]) -> None:
    """Stamps the trainer would read as a time column (pandas), so "1949-01" (a month) is a
    stamp here as it was in the training file. ISO-8601 date-times, the usual case, are checked
    by the standard library (25x cheaper than pandas per series); pandas decides the rest."""
    try:
        for stamp in stamps:
            datetime.fromisoformat(stamp)
        return
    except ValueError:
        pass
    try:
        parse_stamps(stamps)
    except CalendarError as exc:
        raise InvalidInput(f"series '{series.id}': {exc}.") from None


def _horizon_stamps(series: SeriesIn, freq: str | None, horizon: int) -> list[str] | None:
    """The `horizon` stamps after the series' last one, by the model's frequency."""
    if series.timestamps is None or not freq:
        return None
    try:
        return next_stamps(series.timestamps[-1], freq, horizon)
    except CalendarError as exc:
        raise InvalidInput(f"series '{series.id}': {exc}.") from None


def _covariates(
    series: SeriesIn,
    spec: Covariates,
    context: int,
    horizon: int,
    horizon_stamps: list[str] | None,
) -> np.ndarray:
    """(context + horizon, K) float32 for the series' last `context` history values and the
    horizon: the calendar columns, then the future columns, then the static attributes'
    channels."""
    parts = []
    statics = _static(series, spec, context + horizon)
    if spec.calendar:
        if series.timestamps is None or horizon_stamps is None:
            raise InvalidInput(
                f"series '{series.id}': this model reads calendar features "
                f"({', '.join(spec.calendar)}); give 'timestamps', one per history value."
            )
        try:
            seconds = parse_stamps(series.timestamps[-context:] + horizon_stamps)
        except CalendarError as exc:
            raise InvalidInput(f"series '{series.id}': {exc}.") from None
        parts.append(calendar_values(seconds, spec.calendar))
    given = {"covariates": series.covariates, "future": series.future}
    if not spec.future:
        named = " and ".join(repr(k) for k, v in given.items() if v is not None)
        if named:
            raise InvalidInput(
                f"series '{series.id}': this model has no known-future columns (its covariates "
                f"are {_what(spec)}); drop {named}."
            )
        return np.concatenate(parts + statics, axis=1).astype(np.float32)
    n = len(series.values)
    for key in ("covariates", "future"):
        columns = given[key]
        what = "one per value in 'values'" if key == "covariates" else "one per horizon step"
        if columns is None:
            raise InvalidInput(
                f"series '{series.id}': this model needs '{key}' with the "
                f"{'history' if key == 'covariates' else 'horizon'} values of its known-future "
                f"columns {list(spec.future)}, {what}."
            )
        unknown = sorted(set(columns) - set(spec.future))
        missing = [c for c in spec.future if c not in columns]
        if unknown or missing:
            raise InvalidInput(
                f"series '{series.id}': '{key}' must have exactly the columns "
                f"{list(spec.future)}"
                + (f"; unknown: {unknown}" if unknown else "")
                + (f"; missing: {missing}" if missing else "")
                + "."
            )
    assert series.covariates is not None and series.future is not None
    past = [_column(series, "covariates", c, series.covariates, n)[-context:] for c in spec.future]
    ahead = [_column(series, "future", c, series.future, horizon) for c in spec.future]
    parts.append(np.concatenate([np.stack(past, axis=1), np.stack(ahead, axis=1)]))
    return np.concatenate(parts + statics, axis=1).astype(np.float32)


def _what(spec: Covariates) -> str:
    """What a model without future columns reads, for a 422 (calendar-only: as before)."""
    kinds = []
    if spec.calendar:
        kinds.append("calendar features from the timestamps")
    if spec.static:
        kinds.append("static attributes given in 'static'")
    return " and ".join(kinds)


_TRUE, _FALSE = {"true", "t", "yes", "y", "1"}, {"false", "f", "no", "n", "0"}


def _static(series: SeriesIn, spec: Covariates, steps: int) -> list[np.ndarray]:
    """The static attributes' channels, (steps, width) each: a one-hot of the category, or the
    number; a 422 for a missing, unknown or wrongly typed attribute (`plan_forecast` refuses
    `static` sent to a model without static attributes)."""
    if not spec.static:
        return []
    names = [a.name for a in spec.static]
    if series.static is None:
        raise InvalidInput(
            f"series '{series.id}': this model needs 'static' with the series' value of each "
            f"static attribute {names}."
        )
    unknown = sorted(set(series.static) - set(names))
    missing = [n for n in names if n not in series.static]
    if unknown or missing:
        raise InvalidInput(
            f"series '{series.id}': 'static' must have exactly the attributes {names}"
            + (f"; unknown: {unknown}" if unknown else "")
            + (f"; missing: {missing}" if missing else "")
            + "."
        )
    out = []
    for attribute in spec.static:
        value = series.static[attribute.name]
        if attribute.kind == "numeric":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidInput(
                    f"series '{series.id}': static '{attribute.name}' is numeric; give a number, "
                    f"not {value!r}."
                )
            if not np.isfinite(value) or abs(value) > _MAX_ABS:
                raise InvalidInput(
                    f"series '{series.id}': static '{attribute.name}' must be a finite number."
                )
            out.append(np.full((steps, 1), float(value)))
            continue
        categories = attribute.categories or []
        label = _label(value, categories)
        if label not in categories:
            raise InvalidInput(
                f"series '{series.id}': static '{attribute.name}' is {value!r}, not a category "
                f"this model was trained on: {categories}."
            )
        onehot = np.array([label == c for c in categories], dtype=np.float64)
        out.append(np.tile(onehot, (steps, 1)))
    return out


def _label(value: str | bool | int | float, categories: list[str]) -> str | None:
    """A request's categorical value as the trainer labelled it: text as is, JSON booleans and
    yes/no words of a boolean attribute "true" / "false", whole numbers without a point."""
    if categories == ["false", "true"]:
        word = str(value).strip().lower()
        if word in _TRUE or word in _FALSE:
            return "true" if word in _TRUE else "false"
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    return str(value)


def _column(
    series: SeriesIn, key: str, column: str, columns: dict[str, list[float]], length: int
) -> np.ndarray:
    values = np.asarray(columns[column], dtype=np.float64)
    if len(values) != length:
        what = "value in 'values'" if key == "covariates" else "horizon step"
        raise InvalidInput(
            f"series '{series.id}': {key} '{column}' has {len(values)} values; give one per "
            f"{what} ({length})."
        )
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise InvalidInput(
            f"series '{series.id}': {key} '{column}' has NaN or infinite values (first at "
            f"index {int(bad[0])}); a known-future column must be known."
        )
    if values.size and np.abs(values).max() > _MAX_ABS:
        raise InvalidInput(f"series '{series.id}': {key} '{column}' values are too large.")
    return values
