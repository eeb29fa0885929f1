"""The training commands: train, inspect, evaluate, export (they need the `train` extra: torch
is imported inside each command, never at start-up)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from rnngan.cli.common import app, duration, fail, setup_logging


def _table_config(data: Path, **options: Any) -> Any:
    from training.config_tables import table_config

    return table_config(data, **options)


def _resolve(
    data: Path,
    *,
    name: str | None = None,
    out_dir: str | None = None,
    copy_dir: Path | None = None,
    **options: Any,
) -> Any:
    """rnngan/cli/table_args.py's inference (time column, target, one series, yyyymmdd
    dates), said on the terminal; a copy of the table (one series, dates) goes into
    `copy_dir`, by default the run directory."""
    from rnngan.cli.table_args import ONE_SERIES_ID, resolve

    if copy_dir is None:  # where the run's config will point
        id_col = options.get("id_col") or ONE_SERIES_ID
        copy_dir = _table_config(data, id_col=id_col, name=name, out_dir=out_dir).run_dir
    args = resolve(data, copy_dir=copy_dir, **options)
    for note in args.notes:
        typer.secho(note, fg=typer.colors.YELLOW, err=True)
    return args


@app.command()
def train(
    config: Annotated[
        Path | None, typer.Option(help="TOML run config, e.g. configs/sines.toml")
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="your own long table (.csv or .parquet) instead of --config")
    ] = None,
    id_col: Annotated[
        str | None,
        typer.Option(help="--data: the entity id column (none: the whole file is one series)"),
    ] = None,
    time_col: Annotated[
        str | None,
        typer.Option(help="--data: the timestamp column (default: the one date-time column)"),
    ] = None,
    task: Annotated[str, typer.Option(help="--data: generate or forecast")] = "generate",
    target: Annotated[
        str | None,
        typer.Option(help="--data, forecast: column to forecast (default: the numeric one)"),
    ] = None,
    horizon: Annotated[
        int,
        typer.Option(
            help="--data, forecast: steps ahead (0: one season, at most 48; 6 for yearly "
            "data, 24 for others without a season; fewer when the series are too short)"
        ),
    ] = 0,
    context_len: Annotated[
        int,
        typer.Option(help="--data, forecast: history read (0: 168, or two seasons if longer)"),
    ] = 0,
    season: Annotated[
        int, typer.Option(help="--data, forecast: seasonal period (0: from the time column)")
    ] = 0,
    future_cols: Annotated[
        str | None,
        typer.Option(
            help="--data, forecast: columns known in advance, comma-separated (the request "
            "sends them as `covariates` for the history and `future` for the horizon)"
        ),
    ] = None,
    calendar: Annotated[
        str | None,
        typer.Option(
            help="--data, forecast: calendar features: auto (from the time column's frequency) "
            "or hour,weekday,month,yearday (default: none)"
        ),
    ] = None,
    static_cols: Annotated[
        str | None,
        typer.Option(
            help="--data, forecast: static attributes (one value per entity) that condition the "
            "forecast, comma-separated, or auto (the columns inferred static); the request "
            "sends them as `static` (default: none)"
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="--data: model name (default: file name)")
    ] = None,
    static: Annotated[
        str | None,
        typer.Option(help="--data: static columns, comma-separated (default: inferred)"),
    ] = None,
    types: Annotated[
        str | None, typer.Option(help="--data: type overrides, e.g. units=count,flag=boolean")
    ] = None,
    bounds: Annotated[
        str | None, typer.Option(help="--data: declared bounds, e.g. humidity=0:100")
    ] = None,
    columns: Annotated[
        str | None, typer.Option(help="--data: columns to model (default: all others)")
    ] = None,
    seq_len: Annotated[
        int, typer.Option(help="--data: training window length (0: the longest entity, ≤ 96)")
    ] = 0,
    steps: Annotated[int | None, typer.Option(help="override train.steps")] = None,
    budget: Annotated[
        str | None,
        typer.Option(help="stop after this long, e.g. 30m, 1h, 90s (the checkpoint is kept)"),
    ] = None,
    out_dir: Annotated[str | None, typer.Option(help="override out_dir")] = None,
    nproc: Annotated[
        int,
        typer.Option(
            min=1, help="data-parallel processes (DDP, gloo), as torchrun --nproc-per-node"
        ),
    ] = 1,
    resume: Annotated[
        bool,
        typer.Option(
            help="continue the run in <out_dir>/<name> from its last checkpoint: the same config "
            "(--steps may raise the total, --budget gives this command its own time)"
        ),
    ] = False,
) -> None:
    """Train a model; writes <out_dir>/<name>/{checkpoint.pt, resume.pt, losses.jsonl}.

    Either a TOML config (--config), or your own long table (--data with --id-col): one row per
    entity and time; column types are inferred and printed for you to check. Without --id-col
    the file is one series; without --time-col the one column of date-times is the time; a
    forecast without --target forecasts the one numeric column. With --nproc N
    (or under `torchrun --nproc-per-node N -m rnngan train`) N processes share each batch and
    rank 0 writes the run (docs/scaling.md, Data-parallel training)."""
    setup_logging()
    import dataclasses

    from training.config import ConfigError, load_config
    from training.train import RankFailed, launch
    from training.train import train as run_training

    budget_s = duration(budget) if budget is not None else None
    if (config is None) == (data is None):
        fail("give either --config or --data (your own table)")
        return
    try:
        if data is not None:
            if task not in ("generate", "forecast"):
                fail("--task must be generate or forecast")
                return
            args = _resolve(
                data,
                name=name,
                out_dir=out_dir,
                id_col=id_col,
                time_col=time_col,
                task=task,
                target=target,
                future_cols=future_cols,
                static_cols=static_cols,
                horizon=horizon,
                context_len=context_len,
                season=season,
                columns=columns,
            )
            cfg = _table_config(
                args.data,
                id_col=args.id_col,
                time_col=args.time_col,
                name=name or data.stem,
                static=static,
                types=types,
                bounds=bounds,
                columns=args.columns,
                seq_len=seq_len,
                out_dir=out_dir,
                task=task,
                target=args.target,
                horizon=args.horizon,
                context_len=args.context_len,
                season=season,
                future_cols=future_cols,
                calendar=calendar,
                static_cols=static_cols,
            )
            if task == "generate":
                _show_table(cfg)
        else:
            assert config is not None
            cfg = load_config(config)
    except (ConfigError, OSError, ValueError) as exc:
        fail(f"{config or data}: {exc}")
        return
    if steps is not None:
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, steps=steps))
    if budget_s is not None:
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, budget_s=budget_s))
    if out_dir is not None:
        cfg = dataclasses.replace(cfg, out_dir=out_dir)
    if resume and nproc > 1:
        fail("--resume runs in one process for now: drop --nproc")
        return
    try:
        if nproc > 1:
            launch(cfg, nproc)
        else:
            run_training(cfg, resume=resume)
    except (FileNotFoundError, ValueError, RankFailed) as exc:
        fail(str(exc))
    if int(os.environ.get("RANK", "0")) != 0:  # torchrun: rank 0 alone reports
        return
    typer.echo(f"checkpoint: {cfg.run_dir / 'checkpoint.pt'}")
    typer.echo(f"next: rnngan evaluate --run {cfg.run_dir} && rnngan export --run {cfg.run_dir}")


def _show_table(cfg: Any) -> None:
    """Print what was inferred from the user's table (raises TableError on a bad table)."""
    from rnngan.core.tables.spec import describe
    from training.data.tables import spec_from_config

    spec, _ = spec_from_config(cfg.data)
    typer.echo(describe(spec))


@app.command()
def inspect(
    data: Annotated[Path, typer.Option(help="your long table (.csv or .parquet)")],
    id_col: Annotated[
        str | None, typer.Option(help="the entity id column (none: the whole file is one series)")
    ] = None,
    time_col: Annotated[
        str | None, typer.Option(help="the timestamp column (default: the one date-time column)")
    ] = None,
    static: Annotated[str | None, typer.Option(help="static columns (default: inferred)")] = None,
    types: Annotated[str | None, typer.Option(help="type overrides, col=kind,...")] = None,
    bounds: Annotated[str | None, typer.Option(help="declared bounds, col=low:high,...")] = None,
    columns: Annotated[str | None, typer.Option(help="columns to model")] = None,
) -> None:
    """Print the column types, roles, gaps and spacing inferred from a table, without training."""
    import tempfile

    try:
        with tempfile.TemporaryDirectory() as tmp:
            args = _resolve(
                data, copy_dir=Path(tmp), id_col=id_col, time_col=time_col, columns=columns
            )
            cfg = _table_config(
                args.data,
                id_col=args.id_col,
                time_col=args.time_col,
                name=None,
                static=static,
                types=types,
                bounds=bounds,
                columns=args.columns,
                seq_len=0,
                out_dir=None,
            )
            _show_table(cfg)
    except (OSError, ValueError) as exc:
        fail(f"{data}: {exc}")


@app.command()
def evaluate(
    run: Annotated[Path, typer.Option(help="run directory, e.g. runs/sines")],
    max_entities: Annotated[
        int, typer.Option(help="own tables: evaluate on at most this many entities")
    ] = 200,
    max_windows: Annotated[
        int, typer.Option(help="own tables: windows per side for each classifier")
    ] = 1000,
) -> None:
    """Measure a trained model's quality on held-out data; writes <run>/metrics.json and ends
    with the verdict (PASS, or FAIL with the reasons)."""
    setup_logging()
    from training.evaluate.run import evaluate_run

    try:
        metrics = evaluate_run(
            run, max_entities=max_entities, max_windows=max_windows, show_progress=True
        )
    except FileNotFoundError as exc:
        fail(str(exc))
        return
    import json

    typer.echo(json.dumps(metrics, indent=2))
    _say_verdict(metrics)


def _say_verdict(metrics: dict[str, Any]) -> None:
    """The verdict last, where a person reads it, on stderr (`rnngan evaluate`'s stdout is the
    metrics JSON); a failed one in red, collapse loudly, a passed one with warnings (too few test
    windows to be firm, coverage off 0.80) in yellow."""
    sub = metrics.get("subsampled")
    if sub and sub["entities_real"] < sub["entities_total"]:
        typer.echo(
            f"subsampled: {sub['entities_real']} of {sub['entities_total']} entities, "
            f"{sub['windows_per_side']} of {sub['windows_available']} windows per side",
            err=True,
        )
    verdict = metrics.get("verdict")
    if verdict is None:
        return
    if verdict["passed"]:
        warned = verdict.get("warnings") or verdict.get("few_windows")
        colour = typer.colors.YELLOW if warned else typer.colors.GREEN
        typer.secho(f"verdict: {verdict['line']}", fg=colour, err=True)
        return
    if verdict.get("collapse_suspected"):
        typer.secho(
            "COLLAPSE: the generator does not reproduce the spread or variety of the data; "
            "`rnngan export` refuses this model unless --force",
            fg=typer.colors.RED,
            bold=True,
            err=True,
        )
    typer.secho(f"verdict: {verdict['line']}", fg=typer.colors.RED, err=True)


@app.command()
def export(
    run: Annotated[Path, typer.Option(help="run directory, e.g. runs/sines")],
    models_dir: Annotated[Path, typer.Option(help="model repository")] = Path("models"),
    force: Annotated[
        bool, typer.Option(help="export even when the evaluation suspects collapse")
    ] = False,
) -> None:
    """Export the generator to ONNX with its manifest and quality report:
    <models_dir>/<name>/<version>/{model.onnx, manifest.json, report.json, report.html}."""
    setup_logging()
    from training.export import QualityRefused
    from training.export import export as run_export

    try:
        out = run_export(run, models_dir, force=force)
    except FileNotFoundError as exc:
        fail(str(exc))
        return
    except QualityRefused as exc:
        typer.secho(f"COLLAPSE: {exc}", fg=typer.colors.RED, bold=True, err=True)
        raise typer.Exit(code=4) from None
    typer.echo(f"exported: {out}")
    import json

    report = json.loads((out / "report.json").read_text())
    if not report["evaluated"]:
        typer.secho(
            "warning: this model was NEVER EVALUATED (no metrics.json); its report says so. "
            f"Run `rnngan evaluate --run {run}` and export again.",
            fg=typer.colors.YELLOW,
            err=True,
        )
    else:
        _say_verdict(report)
    typer.echo(f"report: {out / 'report.html'}")
