"""Forecasts on the conventions of statsforecast / neuralforecast / TimeGPT: a long frame in
(`unique_id, ds, y`, plus known-future covariates in `X_df` and static attributes in
`static_df`), a frame out with one row per
(series, horizon step) and one column per output: `<model>` (the mean of the sample paths),
`<model>-lo-<level>` / `<model>-hi-<level>` for each interval, or `<model>-q-<q>` for quantiles;
the sample paths, on request, as a long frame with a `sample` column.

Everything that can be checked here is, before any request: the columns, duplicate
(id, timestamp) pairs, NaN or infinite targets, histories shorter than the model's
`context_len` (its `min_history` when it has one), `h` against the model's horizon, levels,
quantiles and the server's limits. The panel is then split into requests under the server's
limits (`GET /v1/limits`), sent concurrently, each with its `offset`, so the numbers are those
of one big request.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from rnngan.client.errors import InputError
from rnngan.client.gaps import mend
from rnngan.client.stamps import (
    is_yearly,
    spelled_periods,
    timetable_next,
    year_dates,
    yyyymmdd_dates,
)
from rnngan.core.manifest import Manifest

log = logging.getLogger("rnngan.client")

if TYPE_CHECKING:
    from rnngan.client.http import Client, Limits

DEFAULT_LEVELS = (80, 95)
ONE_SERIES = "series"  # the id of a frame without an id column (rnngan/cli/table_args.py's)
_BODY_SHARE = 0.8  # of the server's body limit a request may fill (the estimate is rough)


@dataclass(frozen=True)
class Panel:
    """A checked long frame: the series in id order, each as rows [start, end) of `values`."""

    ids: np.ndarray  # (S,) the original id values
    starts: np.ndarray  # (S,) first row of each series
    ends: np.ndarray  # (S,)
    values: np.ndarray  # (rows,) float64 target, sorted by (id, ds)
    stamps: pd.Series  # (rows,) ds, sorted the same way
    covariates: dict[str, np.ndarray]  # future columns' past values, sorted the same way
    id_dtype: Any  # the id column's dtype, kept in the output


def _quantile_columns(
    name: str, level: Sequence[float] | None, quantiles: Sequence[float] | None
) -> tuple[list[float], list[tuple[str, float]]]:
    """The quantile levels to ask for, and (column, level) pairs in statsforecast's order:
    lo from the widest interval in, then hi outwards; or `<name>-q-<q>` in the given order."""
    if quantiles is not None:
        if level is not None:
            raise InputError("give either level= or quantiles=, not both")
        qs = [float(q) for q in quantiles]
        if not qs or any(not 0 < q < 1 for q in qs):
            raise InputError(f"quantiles must lie strictly between 0 and 1, got {list(qs)}")
        if len(set(qs)) != len(qs):
            raise InputError(f"quantiles must be distinct, got {list(qs)}")
        return qs, [(f"{name}-q-{q!r}", q) for q in qs]
    levels = [float(v) for v in (DEFAULT_LEVELS if level is None else level)]
    if any(not 0 < v < 100 for v in levels):
        raise InputError(f"levels must lie strictly between 0 and 100, got {levels}")
    levels = sorted(set(levels))
    columns = [(f"{name}-lo-{v:g}", (100 - v) / 200) for v in reversed(levels)]
    columns += [(f"{name}-hi-{v:g}", (100 + v) / 200) for v in levels]
    asked = sorted({q for _, q in columns}) or [0.5]  # the API needs one level at least
    return asked, columns


def check_panel(
    df: pd.DataFrame,
    *,
    id_col: str,
    time_col: str,
    target_col: str,
    min_length: int,
    covariates: Sequence[str] = (),
    fill: bool = False,
    freq: str | None = None,
) -> Panel:
    """A `Panel`, or InputError saying what is wrong with the frame (`min_length`: the shortest
    history the model takes). `fill`: blank cells and rows missing from `freq` mended as
    training on a table mends them (rnngan/client/gaps.py), else blank cells refused."""
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    needed = [id_col, time_col, target_col, *covariates]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise InputError(
            f"df has no column(s) {missing}; it has {list(df.columns)[:20]} (set id_col=, "
            "time_col=, target_col= for other names)"
        )
    if df.empty:
        raise InputError("df has no rows")
    if df[id_col].isna().any():
        raise InputError(f"column '{id_col}' has missing ids")
    stamps = _stamps(df[time_col], time_col, dated=freq is not None, yearly=is_yearly(freq))
    frame = pd.DataFrame({"id": df[id_col].to_numpy(), "ds": stamps.to_numpy()})
    dup = frame.duplicated(["id", "ds"], keep=False)
    if dup.any():
        first = frame[dup].iloc[0]
        raise InputError(
            f"{int(dup.sum())} rows repeat an ({id_col}, {time_col}) pair, e.g. "
            f"({first['id']!r}, {first['ds']}); keep one row per series and timestamp"
        )
    numbers = {}
    for column in (target_col, *covariates):
        values = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=np.float64)
        # blank cells are mended below (`fill`); text and infinities never are
        bad = ~np.isfinite(values) & ~(df[column].isna().to_numpy() if fill else False)
        if bad.any():
            _refuse(column, bad, frame, fill)
        numbers[column] = values
    order = np.lexsort((frame["ds"].to_numpy(), pd.factorize(frame["id"], sort=True)[0]))
    ids_sorted = frame["id"].to_numpy()[order]
    stamps = stamps.iloc[order].reset_index(drop=True)
    numbers = {c: v[order] for c, v in numbers.items()}
    if fill:
        ids_sorted, stamps, numbers = mend(ids_sorted, stamps, numbers, target_col, freq)
        for column, values in numbers.items():  # a covariate blank all through a series
            if np.isnan(values).any():
                sorted_frame = pd.DataFrame({"id": ids_sorted, "ds": stamps})
                _refuse(column, np.isnan(values), sorted_frame, False)
    codes = pd.factorize(ids_sorted, sort=True)[0]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ends = np.r_[starts[1:], len(codes)]
    lengths = ends - starts
    short = np.flatnonzero(lengths < min_length)
    if short.size:
        j = int(short[0])
        raise InputError(
            f"{short.size} of {len(starts)} series have fewer than the {min_length} values "
            "this model needs, "
            f"e.g. {ids_sorted[starts[j]]!r} with {int(lengths[j])}"
        )
    return Panel(
        ids=ids_sorted[starts],
        starts=starts,
        ends=ends,
        values=numbers[target_col],
        stamps=stamps,
        covariates={c: numbers[c] for c in covariates},
        id_dtype=df[id_col].dtype,
    )


def _one_series(df: pd.DataFrame, id_col: str, time_col: str) -> bool:
    """Whether a frame without its id column is one series: no column is the id's name in
    another case (a typo'd id_col is the missing-column error), and no stamp repeats (rows of
    several series would be one of interleaved rows)."""
    if not isinstance(df, pd.DataFrame) or id_col in df.columns or time_col not in df.columns:
        return False
    if any(str(c).lower() == id_col.lower() for c in df.columns):
        return False
    return not df[time_col].duplicated().any()


def _refuse(column: str, bad: np.ndarray, frame: pd.DataFrame, fill: bool) -> None:
    row = int(np.flatnonzero(bad)[0])
    if fill:
        what, fix = "infinite or non-numeric", "correct them (blank cells are filled)"
    else:
        what, fix = "NaN, infinite or non-numeric", "fill or drop them before forecasting"
    raise InputError(
        f"column '{column}' has {int(bad.sum())} {what} value(s), first for series "
        f"{frame['id'].iloc[row]!r} at {frame['ds'].iloc[row]}; {fix}"
    )


def _stamps(
    column: pd.Series, name: str, *, dated: bool = False, yearly: bool = False
) -> pd.Series:
    """Datetimes (parsed from strings if need be; periods spelled as "1998 Q1", "2001 W05" or
    "1939 Jan" as their first day, as `rnngan train --data` reads them; with `dated`, for a
    model with a frequency, integers that spell yyyymmdd too, and with `yearly`, for a yearly
    one, years (1000-2999) as their 1 January, as training reads them) or integers, else
    InputError."""
    if dated and pd.api.types.is_integer_dtype(column):
        dates = yyyymmdd_dates(column)
        if dates is None and yearly:
            dates = year_dates(column)
        if dates is not None:
            return dates.reset_index(drop=True)
    if pd.api.types.is_datetime64_any_dtype(column) or pd.api.types.is_integer_dtype(column):
        return column.reset_index(drop=True)
    periods = spelled_periods(column, least=1)
    if periods is not None:
        return periods[0].reset_index(drop=True)
    try:
        return pd.Series(pd.to_datetime(column, format="ISO8601")).reset_index(drop=True)
    except (ValueError, TypeError) as exc:
        raise InputError(f"column '{name}' is neither datetimes nor integers: {exc}") from None


def horizon_stamps(panel: Panel, h: int, freq: str | None, model_freq: str | None) -> pd.Series:
    """The h stamps after each series' last: by `freq`, else the series' timetable (business
    hours: `timetable_next`, for a model without a frequency), else the frequency pandas
    infers from the series, else the model's; integer stamps step by their last difference."""
    out = []
    for start, end, uid in zip(panel.starts, panel.ends, panel.ids, strict=True):
        stamps = panel.stamps.iloc[start:end]
        last = stamps.iloc[-1]
        if pd.api.types.is_integer_dtype(stamps):
            step = int(stamps.iloc[-1] - stamps.iloc[-2]) if len(stamps) > 1 else 1
            out.append(pd.Series(last + step * np.arange(1, h + 1), dtype=stamps.dtype))
            continue
        # a timetable only where no frequency is known (training finds one only then)
        ahead = timetable_next(stamps, h) if freq is None and model_freq is None else None
        if ahead is not None:
            out.append(ahead)
            continue
        series_freq = freq or _infer_freq(stamps) or model_freq
        if series_freq is None:
            raise InputError(
                f"cannot tell the frequency of series {uid!r} (irregular or too short); "
                "pass freq= (a pandas alias such as 'h', 'D', 'MS')"
            )
        out.append(pd.Series(pd.date_range(last, periods=h + 1, freq=series_freq)[1:]))
    return pd.concat(out, ignore_index=True).astype(panel.stamps.dtype)


def _infer_freq(stamps: pd.Series) -> str | None:
    recent = stamps.iloc[-50:]
    if len(recent) < 3:
        return None
    try:
        return pd.infer_freq(pd.DatetimeIndex(recent))
    except (TypeError, ValueError):
        return None


def _future_columns(manifest: Manifest) -> list[str]:
    covariates = getattr(manifest, "covariates", None)
    return list(getattr(covariates, "future", None) or [])


def _static_attributes(manifest: Manifest) -> list[Any]:
    covariates = getattr(manifest, "covariates", None)
    return list(getattr(covariates, "static", None) or [])


def _static_values(
    frame: pd.DataFrame, panel: Panel, attributes: list[Any], *, id_col: str, where: str
) -> list[dict[str, Any]]:
    """Each series' static attributes (one dict per series, in panel order) from `frame`: a
    static_df (one row per series) or the history frame (a value constant within each series),
    or InputError."""
    names = [a.name for a in attributes]
    missing = [c for c in (id_col, *names) if c not in frame.columns]
    if missing:
        raise InputError(
            f"{where} has no column(s) {missing}; the model's static attributes are {names} "
            f"(give static_df with {[id_col, *names]}, or those columns in df)"
        )
    groups = frame.groupby(id_col, sort=False)
    # blank cells (a series padded to a common calendar) do not make an attribute vary
    varying = [n for n in names if (groups[n].nunique() > 1).any()]
    if varying:
        raise InputError(
            f"{where}: static attribute(s) {varying} change within a series; give one value "
            "per series"
        )
    first = groups[names].first()
    absent = [uid for uid in panel.ids if uid not in first.index]
    if absent:
        raise InputError(
            f"{where} lacks the static attributes of {len(absent)} series, e.g. {absent[0]!r}"
        )
    out = []
    for uid in panel.ids:
        row = first.loc[uid]
        item: dict[str, Any] = {}
        for a in attributes:
            value = row[a.name]
            if pd.isna(value):
                raise InputError(f"{where}: static '{a.name}' of series {uid!r} is missing")
            if a.kind == "numeric":
                item[a.name] = float(value)
            elif isinstance(value, bool | np.bool_):
                item[a.name] = bool(value)
            elif isinstance(value, int | np.integer):
                item[a.name] = int(value)
            elif isinstance(value, float | np.floating) and float(value).is_integer():
                item[a.name] = int(value)
            else:
                item[a.name] = str(value)
        out.append(item)
    return out


def _future_values(
    X_df: pd.DataFrame,
    panel: Panel,
    stamps: pd.Series,
    h: int,
    columns: list[str],
    *,
    id_col: str,
    time_col: str,
    freq: str | None = None,
) -> dict[str, np.ndarray]:
    """Each future column as (S, h), matched to the horizon stamps (`freq`: the frequency they
    step by, which says how integer stamps read), or InputError."""
    missing = [c for c in (id_col, time_col, *columns) if c not in X_df.columns]
    if missing:
        raise InputError(
            f"X_df has no column(s) {missing}; it needs {[id_col, time_col, *columns]}"
        )
    keys = pd.DataFrame({"id": np.repeat(panel.ids, h), "ds": stamps.to_numpy()})
    dated = pd.api.types.is_datetime64_any_dtype(stamps)
    ds = _stamps(X_df[time_col], time_col, dated=dated, yearly=dated and is_yearly(freq))
    given = pd.DataFrame({"id": X_df[id_col].to_numpy(), "ds": ds})
    for c in columns:
        given[c] = pd.to_numeric(X_df[c], errors="coerce").to_numpy(dtype=np.float64)
    if given.duplicated(["id", "ds"]).any():
        raise InputError(f"X_df repeats ({id_col}, {time_col}) pairs; keep one row per step")
    merged = keys.merge(given, on=["id", "ds"], how="left")
    holes = merged[columns].isna().any(axis=1).to_numpy()
    if holes.any():
        row = merged.iloc[int(np.flatnonzero(holes)[0])]
        raise InputError(
            f"X_df lacks finite values of {columns} for {int(holes.sum())} horizon step(s), "
            f"e.g. series {row['id']!r} at {row['ds']}; it needs every series' next {h} "
            "timestamps"
        )
    return {c: merged[c].to_numpy().reshape(len(panel.ids), h) for c in columns}


def _iso(stamps: pd.Series) -> list[str]:
    if pd.api.types.is_integer_dtype(stamps):
        return []
    return list(pd.DatetimeIndex(stamps).strftime("%Y-%m-%dT%H:%M:%S"))


def forecast(
    client: Client,
    name: str,
    df: pd.DataFrame,
    h: int | None = None,
    *,
    level: Sequence[float] | None = None,
    quantiles: Sequence[float] | None = None,
    num_samples: int = 200,
    seed: int = 0,
    X_df: pd.DataFrame | None = None,
    static_df: pd.DataFrame | None = None,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
    freq: str | None = None,
    return_samples: bool = False,
    fill: bool = True,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Forecast every series of `df`. `level` (default [80, 95]) gives interval columns,
    `quantiles` quantile columns instead; `h` defaults to the model's horizon; `freq` is
    inferred per series when not given. With `return_samples`, also the sample paths as a long
    frame `unique_id, ds, sample, <name>`. A model with static attributes takes them from
    `static_df` (one row per series: the id column and each attribute, statsforecast's
    convention), else from those columns of `df` (constant within each series). With `fill`
    (the default), histories are mended as training on a table mends its series (a warning
    says what was done): blank target rows before a series' first value or after its last
    dropped, rows missing from `freq` (else the model's frequency) inserted, blank values
    inside a series filled by linear interpolation; `fill=False` refuses blank cells."""
    manifest = client.model(name)
    if manifest.task != "forecast" or manifest.context_len is None or manifest.horizon is None:
        raise InputError(f"model '{name}' is a {manifest.task} model, not a forecast model")
    h = manifest.horizon if h is None else int(h)
    if not 1 <= h <= manifest.horizon:
        raise InputError(f"h = {h} is outside this model's horizon of 1 … {manifest.horizon} steps")
    asked, columns = _quantile_columns(name, level, quantiles)
    limits = client.limits()
    if not 1 <= num_samples <= limits.max_num_samples:
        raise InputError(f"num_samples must be 1 … {limits.max_num_samples} on this server")
    if len(asked) > limits.max_quantiles:
        raise InputError(f"{len(asked)} quantile levels; this server takes {limits.max_quantiles}")
    if num_samples * h > limits.max_forecast_values:
        raise InputError(
            f"num_samples × h = {num_samples * h} is over this server's "
            f"{limits.max_forecast_values} values per request, even for one series"
        )
    future = _future_columns(manifest)
    if X_df is not None and not future:
        raise InputError(
            f"model '{name}' has no future covariates (its manifest lists none); drop X_df"
        )
    if future and X_df is None:
        raise InputError(f"model '{name}' needs X_df with the future values of {future}")
    statics = _static_attributes(manifest)
    if static_df is not None and not statics:
        raise InputError(
            f"model '{name}' has no static attributes (its manifest lists none); drop static_df"
        )
    if _one_series(df, id_col, time_col):
        # as `rnngan train --data` takes a file without --id-col
        log.warning("no '%s' column: the frame is one series, '%s'", id_col, ONE_SERIES)
        df = df.assign(**{id_col: ONE_SERIES})
        if X_df is not None and id_col not in X_df.columns:
            X_df = X_df.assign(**{id_col: ONE_SERIES})
        if static_df is not None and id_col not in static_df.columns:
            static_df = static_df.assign(**{id_col: ONE_SERIES})
    context = manifest.context_len
    panel = check_panel(
        df,
        id_col=id_col,
        time_col=time_col,
        target_col=target_col,
        min_length=manifest.min_history or context,
        covariates=future,
        fill=fill,
        freq=freq or manifest.freq,
    )
    stamps = horizon_stamps(panel, h, freq, manifest.freq)
    future_values = (
        _future_values(
            X_df,
            panel,
            stamps,
            h,
            future,
            id_col=id_col,
            time_col=time_col,
            freq=freq or manifest.freq,
        )
        if X_df is not None
        else {}
    )
    static_values = (
        _static_values(
            static_df if static_df is not None else df,
            panel,
            statics,
            id_col=id_col,
            where="static_df" if static_df is not None else "df",
        )
        if statics
        else []
    )
    items = []
    for j, (start, end) in enumerate(zip(panel.starts, panel.ends, strict=True)):
        tail = slice(max(int(start), end - context), end)
        item: dict[str, Any] = {"id": str(panel.ids[j]), "values": panel.values[tail].tolist()}
        iso = _iso(panel.stamps.iloc[tail])
        if iso:
            item["timestamps"] = iso
        if future:
            item["covariates"] = {c: panel.covariates[c][tail].tolist() for c in future}
            item["future"] = {c: future_values[c][j].tolist() for c in future}
        if statics:
            item["static"] = static_values[j]
        items.append(item)
    common = {
        "horizon": h,
        "quantiles": asked,
        "num_samples": num_samples,
        "seed": seed,
        "return_samples": return_samples,
    }
    batches = _batches(items, limits, num_samples * h)
    path = f"/v1/models/{name}/forecast"

    def send(batch: tuple[int, int]) -> list[dict[str, Any]]:
        a, b = batch
        body = {"series": items[a:b], **common}
        if a:  # (a server older than `offset` takes a panel that fits one request)
            body["offset"] = a
        answer: list[dict[str, Any]] = client.request("POST", path, json=body).json()["forecasts"]
        return answer

    workers = min(client.concurrency, len(batches))
    if workers == 1:
        results = [send(b) for b in batches]
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="rnngan-forecast") as pool:
            results = list(pool.map(send, batches))
    answers = [f for part in results for f in part]
    return _frames(panel, stamps, h, answers, name, columns, id_col, time_col, return_samples)


def _batches(
    items: list[dict[str, Any]], limits: Limits, values_per_series: int
) -> list[tuple[int, int]]:
    """[a, b) ranges of series per request, under the series, values and body-size limits."""
    per_request = min(limits.max_forecast_series, limits.max_forecast_values // values_per_series)
    budget = _BODY_SHARE * limits.max_body_bytes
    out, a, size = [], 0, 0
    for j, item in enumerate(items):
        cost = _json_bytes(item)
        if j > a and (j - a >= per_request or size + cost > budget):
            out.append((a, j))
            a, size = j, 0
        size += cost
    out.append((a, len(items)))
    return out


def _json_bytes(item: dict[str, Any]) -> int:
    """An upper bound of the item's JSON size: a float takes at most 24 characters and a
    separator, a stamp 21 and one, without encoding it twice."""
    floats = len(item["values"])
    for key in ("covariates", "future"):
        floats += sum(len(v) + 8 for v in item.get(key, {}).values())
    statics = sum(30 + 6 * len(str(k)) + 6 * len(str(v)) for k, v in item.get("static", {}).items())
    return 100 + len(item["id"]) * 6 + 26 * floats + 23 * len(item.get("timestamps", ())) + statics


def _frames(
    panel: Panel,
    stamps: pd.Series,
    h: int,
    answers: list[dict[str, Any]],
    name: str,
    columns: list[tuple[str, float]],
    id_col: str,
    time_col: str,
    return_samples: bool,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    out = pd.DataFrame({id_col: pd.Series(np.repeat(panel.ids, h), dtype=panel.id_dtype)})
    out[time_col] = stamps.reset_index(drop=True)
    out[name] = np.concatenate([np.asarray(a["mean"], dtype=np.float64) for a in answers])
    for column, q in columns:
        key = repr(float(q))
        out[column] = np.concatenate(
            [np.asarray(a["quantiles"][key], dtype=np.float64) for a in answers]
        )
    if not return_samples:
        return out
    paths = np.stack([np.asarray(a["samples"], dtype=np.float64) for a in answers])  # (S, N, h)
    s, n, _ = paths.shape
    long = pd.DataFrame(
        {
            id_col: pd.Series(np.repeat(panel.ids, n * h), dtype=panel.id_dtype),
            time_col: np.tile(stamps.to_numpy().reshape(s, 1, h), (1, n, 1)).reshape(-1),
            "sample": np.tile(np.repeat(np.arange(n), h), s),
            name: paths.reshape(-1),
        }
    )
    return out, long


__all__ = ["DEFAULT_LEVELS", "Panel", "check_panel", "forecast", "horizon_stamps"]
