"""Own tables, sampling: the static attributes, lengths and starts of requested series, and the
whole path from a seed to decoded series (`synthesize`), shared by the service, the CLI and the
evaluation. Every draw comes from counter-based streams keyed by (seed, series index).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from rnngan.core.noise import series_noise, series_uniforms
from rnngan.core.tables.codec import Decoded, condition_vector, decode, series_ids
from rnngan.core.tables.spec import TableError, TableSpec, channel_layout
from rnngan.core.tables.stamps import calendar_offset, calendar_starts, on_frequency


def resolve_condition(spec: TableSpec, condition: Mapping[str, Any]) -> dict[str, Any]:
    """Check a request's `condition` and return it with values in spec form, or raise TableError
    naming the unknown column or value."""
    static = {c.name: c for c in spec.static}
    out: dict[str, Any] = {}
    for name, value in condition.items():
        column = static.get(name)
        if column is None:
            known = ", ".join(static) or "none"
            dynamic = {c.name for c in spec.dynamic}
            why = "varies in time" if name in dynamic else "is not a column of this model"
            raise TableError(f"condition column '{name}' {why}; the static columns are: {known}")
        if column.kind == "categorical":
            if not isinstance(value, str) or value not in (column.categories or []):
                raise TableError(
                    f"condition {name}={value!r} is not a known category; known: "
                    + ", ".join(column.categories or [])
                )
            out[name] = value
        elif column.kind == "boolean":
            if not isinstance(value, bool):
                raise TableError(f"condition {name} must be true or false, got {value!r}")
            out[name] = value
        else:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TableError(f"condition {name} must be a number, got {value!r}")
            if column.kind in ("integer", "count") and float(value) != int(value):
                raise TableError(f"condition {name} must be a whole number, got {value!r}")
            low, high = column.unscale(np.array([0.0, 1.0]))
            if not low <= value <= high:
                raise TableError(
                    f"condition {name}={value} is outside the range seen in training "
                    f"[{low:g}, {high:g}]"
                )
            out[name] = float(value)
    return out


def draw_static(
    spec: TableSpec, condition: Mapping[str, Any], uniforms: np.ndarray
) -> list[list[Any]]:
    """Static values for each series: a training combination agreeing with `condition`, drawn in
    proportion to its entity count; when none agrees, each unset column is drawn from its own
    frequencies. `uniforms` is (n, 1 + S): one for the combination, one per static column."""
    static = spec.static
    if not static:
        return [[] for _ in range(len(uniforms))]
    combos = spec.static_combos
    match = [
        c
        for c in combos
        if all(
            _same(v, condition[s.name])
            for s, v in zip(static, c.values, strict=True)
            if s.name in condition
        )
    ]
    rows: list[list[Any]] = []
    if match:
        weights = np.cumsum([c.count for c in match], dtype=np.float64)
        picks = np.searchsorted(weights / weights[-1], uniforms[:, 0], side="right")
        for pick in np.minimum(picks, len(match) - 1):
            rows.append(list(match[int(pick)].values))
        return rows
    for u in uniforms:
        row: list[Any] = []
        for k, column in enumerate(static):
            if column.name in condition:
                row.append(condition[column.name])
                continue
            seen = [c.values[k] for c in combos]
            weights = np.cumsum([c.count for c in combos], dtype=np.float64)
            pick = int(np.searchsorted(weights / weights[-1], u[1 + k], side="right"))
            row.append(seen[min(pick, len(seen) - 1)])
        rows.append(row)
    return rows


def _key(values: Sequence[Any]) -> tuple[str, ...]:
    """A static row as a lookup key (numbers by their float value)."""
    return tuple(
        repr(float(v)) if isinstance(v, int | float) and not isinstance(v, bool) else repr(v)
        for v in values
    )


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return bool(np.isclose(float(a), float(b)))
    return bool(a == b)


def draw_lengths(spec: TableSpec, uniforms: np.ndarray) -> np.ndarray:
    """Series lengths drawn from the training entities' lengths, one uniform each."""
    weights = np.cumsum(spec.length_counts, dtype=np.float64)
    picks = np.searchsorted(weights / weights[-1], uniforms, side="right")
    values = np.asarray(spec.length_values, dtype=np.int64)
    return values[np.minimum(picks, len(values) - 1)]


def draw_starts(spec: TableSpec, uniforms: np.ndarray, start: float | None) -> np.ndarray:
    """Each series' first stamp: the requested `start`, else drawn over the training starts'
    span, on the data's own grid of `step` from the earliest start. On a calendar frequency
    (rnngan/core/tables/stamps.py) both are stamps of that frequency: a requested start that
    is not is rolled forward onto it."""
    if spec.time is None:
        return np.zeros(len(uniforms))
    offset = calendar_offset(spec)
    if start is not None:
        first = on_frequency(offset, spec, start) if offset is not None else start
        return np.full(len(uniforms), first, dtype=np.float64)
    if offset is not None:
        return calendar_starts(offset, spec, uniforms)
    t = spec.time
    steps = np.floor(uniforms * ((t.start_high - t.start_low) / t.step + 1))
    out = t.start_low + np.minimum(steps * t.step, t.start_high - t.start_low)
    return out


# --- the whole path from a seed to series (service, CLI and evaluation share it) ---

RunGraph = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (noise, condition) -> (n, T, D)
_META_STREAM, _DISCRETE_STREAM, _LEVEL_STREAM = 1, 2, 3


def draw_levels(spec: TableSpec, static: list[list[Any]], uniforms: np.ndarray) -> np.ndarray:
    """Each series' entity levels (n, 2L): those of a training entity drawn uniformly among the
    entities with the series' static values (all of them when none has), one uniform each."""
    entities = spec.entity_levels
    table = np.asarray([e.values for e in entities], dtype=np.float64)
    by_combo: dict[int, np.ndarray] = {}
    for k in sorted({e.combo for e in entities}):
        by_combo[k] = np.asarray([i for i, e in enumerate(entities) if e.combo == k])
    everyone = np.arange(len(entities))
    index = {_key(c.values): k for k, c in enumerate(spec.static_combos)}
    out = np.empty((len(static), table.shape[1]), dtype=np.float64)
    for i, row in enumerate(static):
        combo = index.get(_key(row), -1)
        pool = by_combo.get(combo, everyone)
        pick = min(int(uniforms[i] * len(pool)), len(pool) - 1)
        out[i] = table[pool[pick]]
    return out


def plan_lengths(
    spec: TableSpec, *, seed: int, offset: int, n: int, length: int | None
) -> np.ndarray:
    """Each series' length: `length` when given, else drawn from the training entities'."""
    if length is not None:
        return np.full(n, length, dtype=np.int64)
    u = series_uniforms(seed, _META_STREAM, offset, n, 1, 1)[:, 0, 0]
    return draw_lengths(spec, u)


def draw_series(
    spec: TableSpec,
    run: RunGraph,
    *,
    latent_dim: int,
    n: int,
    seed: int,
    offset: int = 0,
    length: int | None = None,
    condition: Mapping[str, Any] | None = None,
    min_steps: int = 0,
) -> tuple[np.ndarray, np.ndarray, list[list[Any]], np.ndarray, np.ndarray | None]:
    """The undecoded part of `synthesize`: model output (n, T, D) for series `offset …`, their
    lengths, static values, the per-series uniforms of the meta stream (length, start, static
    draws) and, for a spec with level columns, their entity levels (n, 2L) (drawn from a stream
    of their own, so specs without levels draw exactly as before). T is the longest length, at
    least `min_steps`."""
    meta = series_uniforms(seed, _META_STREAM, offset, n, 1, 3 + len(spec.static))[:, 0, :]
    # meta[:, 0] is the uniform `plan_lengths` draws: the same lengths, without a second draw.
    lengths = (
        np.full(n, length, dtype=np.int64) if length is not None else draw_lengths(spec, meta[:, 0])
    )
    static = draw_static(spec, condition or {}, meta[:, 2:])
    levels = None
    if spec.level_columns:
        u = series_uniforms(seed, _LEVEL_STREAM, offset, n, 1, 1)[:, 0, 0]
        levels = draw_levels(spec, static, u)
    cond = np.stack(
        [
            condition_vector(spec, row, levels[i] if levels is not None else None)
            for i, row in enumerate(static)
        ]
    ).astype(np.float32)
    noise = series_noise(seed, offset, n, max(int(lengths.max()), min_steps), latent_dim)
    raw = np.asarray(run(noise, cond), dtype=np.float32)
    return raw, lengths, static, meta, levels


def synthesize(
    spec: TableSpec,
    run: RunGraph,
    *,
    latent_dim: int,
    n: int,
    seed: int,
    offset: int = 0,
    length: int | None = None,
    condition: Mapping[str, Any] | None = None,
    start: float | None = None,
    impute: bool = False,
) -> Decoded:
    """Series `offset … offset+n-1` of `seed`'s stream, decoded. Series `i` is the same whatever
    `n` and `offset` are: its length, start, static values, noise and discrete draws all come
    from counter-based streams keyed by (seed, i). `condition` must come from
    `resolve_condition`."""
    raw, lengths, static, meta, levels = draw_series(
        spec,
        run,
        latent_dim=latent_dim,
        n=n,
        seed=seed,
        offset=offset,
        length=length,
        condition=condition,
    )
    starts = draw_starts(spec, meta[:, 1], start)
    per_step = max(1, channel_layout(spec).uniforms_per_step(spec))
    uniforms = series_uniforms(seed, _DISCRETE_STREAM, offset, n, raw.shape[1], per_step)
    return decode(
        spec,
        raw,
        uniforms=uniforms,
        lengths=lengths,
        static=static,
        starts=starts,
        ids=series_ids(spec, offset, n),
        impute=impute,
        levels=levels,
    )
