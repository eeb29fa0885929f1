"""The client commands: `rnngan forecast` and `rnngan download` against a running server, on the
same code as `rnngan.client` (the serving install: no torch)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from rnngan.cli.common import app, fail, setup_logging

Url = Annotated[str, typer.Option(help="the server, e.g. http://localhost:8000")]
ApiKey = Annotated[
    str | None, typer.Option(help="bearer key (default: $RNNGAN_API_KEY)", show_default=False)
]


def _read_frame(path: Path) -> Any:
    import pandas as pd

    if not path.is_file():
        fail(f"{path}: no such file")
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path)


def _write_frame(frame: Any, path: Path) -> None:
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


@app.command()
def forecast(
    url: Url,
    input: Annotated[Path, typer.Option(help="long panel, .csv or .parquet: unique_id, ds, y")],
    out: Annotated[Path, typer.Option(help="the forecast frame, .csv or .parquet")],
    h: Annotated[int | None, typer.Option(help="horizon (default: the model's)")] = None,
    model: Annotated[
        str | None, typer.Option(help="forecast model (default: the server's only one)")
    ] = None,
    level: Annotated[
        list[float] | None, typer.Option(help="interval level, repeatable (default 80 and 95)")
    ] = None,
    quantile: Annotated[
        list[float] | None,
        typer.Option(help="quantile level in (0, 1), repeatable (not with --level)"),
    ] = None,
    num_samples: int = 200,
    seed: int = 0,
    future: Annotated[
        Path | None, typer.Option(help="known-future covariates (X_df), .csv or .parquet")
    ] = None,
    static: Annotated[
        Path | None,
        typer.Option(
            help="static attributes (static_df: the id column and one column per attribute, "
            "one row per series), .csv or .parquet (default: those columns of --input)"
        ),
    ] = None,
    samples_out: Annotated[
        Path | None, typer.Option(help="also write the sample paths (long: a `sample` column)")
    ] = None,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
    freq: Annotated[str | None, typer.Option(help="pandas alias (default: inferred)")] = None,
    fill: Annotated[
        bool,
        typer.Option(
            "--fill/--no-fill",
            help="mend blank cells and rows missing from the frequency as training does "
            "(--no-fill: refuse them)",
        ),
    ] = True,
    api_key: ApiKey = None,
) -> None:
    """Forecast every series of a panel file through a server: `<model>`, `<model>-lo-<level>`,
    `<model>-hi-<level>` columns (or `<model>-q-<q>`), one row per series and horizon step."""
    setup_logging()
    from rnngan.client import Client, RnnganError

    df = _read_frame(input)
    x_df = _read_frame(future) if future is not None else None
    static_df = _read_frame(static) if static is not None else None
    try:
        with Client(url, api_key or os.environ.get("RNNGAN_API_KEY")) as client:
            name = model or _only_forecast_model(client)
            result = client.forecast(
                name,
                df,
                h,
                level=level or None,
                quantiles=quantile or None,
                num_samples=num_samples,
                seed=seed,
                X_df=x_df,
                static_df=static_df,
                id_col=id_col,
                time_col=time_col,
                target_col=target_col,
                freq=freq,
                fill=fill,
                return_samples=samples_out is not None,
            )
    except RnnganError as exc:
        fail(str(exc))
        return
    if isinstance(result, tuple):
        frame, paths = result
        assert samples_out is not None
        _write_frame(paths, samples_out)
    else:
        frame = result
    _write_frame(frame, out)
    series = frame[id_col].nunique()
    typer.echo(f"{name}: {series} series × {len(frame) // max(series, 1)} steps -> {out}")


def _only_forecast_model(client: Any) -> str:
    names = [m.name for m in client.models() if m.task == "forecast"]
    if len(names) != 1:
        fail(f"the server has {len(names)} forecast models {names}: pick one with --model")
    return names[0]


@app.command()
def download(
    url: Url,
    model: Annotated[str, typer.Option(help="generate or image model")],
    out: Annotated[Path, typer.Option(help="the file (parquet in shards: a directory)")],
    n: int = 1000,
    length: Annotated[int | None, typer.Option(help="default: the model's seq_len")] = None,
    seed: int = 0,
    offset: int = 0,
    format: Annotated[str, typer.Option(help="csv, parquet or ndjson")] = "csv",
    compression: Annotated[str, typer.Option(help="none or gzip (csv, ndjson)")] = "none",
    shards: int = 4,
    workers: Annotated[int | None, typer.Option(help="shards at once (default: all)")] = None,
    resume: Annotated[bool, typer.Option(help="keep the checked parts of an earlier run")] = True,
    api_key: ApiKey = None,
) -> None:
    """A bulk data set in parallel shards, each checked against the server's sha-256 and row
    count; rerun after a crash to resume. csv/ndjson: the bytes of one request."""
    setup_logging()
    from rnngan.client import Client, RnnganError

    try:
        with Client(url, api_key or os.environ.get("RNNGAN_API_KEY")) as client:
            summary = client.download(
                model,
                out,
                n=n,
                length=length,
                seed=seed,
                format=format,  # type: ignore[arg-type]
                offset=offset,
                compression=compression,
                shards=shards,
                workers=workers,
                resume=resume,
            )
    except RnnganError as exc:
        fail(str(exc))
        return
    typer.echo(
        f"{summary.rows} rows, {summary.bytes} bytes in {summary.seconds:.1f} s "
        f"({summary.rows_per_s:,.0f} rows/s, {summary.shards} shards, version "
        f"{summary.version}) -> {summary.path}"
    )
