"""`rnngan` command line. Training commands import torch lazily, so the serving install
(no torch) can still run `rnngan serve` and `rnngan generate`."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)

# Explicit thread policy for 2-core hosts (see README): idle OpenMP threads must not spin.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


def _table_config(data: Path, **options: Any) -> Any:
    from training.config import table_config

    return table_config(data, **options)


@app.command()
def train(
    config: Annotated[
        Path | None, typer.Option(help="TOML run config, e.g. configs/sines.toml")
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="your own long table (.csv or .parquet) instead of --config")
    ] = None,
    id_col: Annotated[str | None, typer.Option(help="--data: the entity id column")] = None,
    time_col: Annotated[str | None, typer.Option(help="--data: the timestamp column")] = None,
    task: Annotated[str, typer.Option(help="--data: generate or forecast")] = "generate",
    target: Annotated[str | None, typer.Option(help="--data, forecast: column to forecast")] = None,
    horizon: Annotated[int, typer.Option(help="--data, forecast: steps ahead")] = 24,
    context_len: Annotated[int, typer.Option(help="--data, forecast: history read")] = 168,
    season: Annotated[
        int, typer.Option(help="--data, forecast: seasonal period (0: from the time column)")
    ] = 0,
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
) -> None:
    """Train a model; writes <out_dir>/<name>/{checkpoint.pt, losses.jsonl}.

    Either a TOML config (--config), or your own long table (--data with --id-col): one row per
    entity and time; column types are inferred and printed for you to check. With --nproc N
    (or under `torchrun --nproc-per-node N -m rnngan train`) N processes share each batch and
    rank 0 writes the run (docs/scaling.md, Data-parallel training)."""
    _logging()
    import dataclasses

    from training.config import ConfigError, load_config
    from training.train import RankFailed, launch
    from training.train import train as run_training

    budget_s = _duration(budget) if budget is not None else None
    if (config is None) == (data is None):
        _fail("give either --config or --data (with --id-col)")
        return
    try:
        if data is not None:
            if not id_col:
                _fail("--data needs --id-col, the column that names each entity")
                return
            if task not in ("generate", "forecast"):
                _fail("--task must be generate or forecast")
                return
            cfg = _table_config(
                data,
                id_col=id_col,
                time_col=time_col,
                name=name,
                static=static,
                types=types,
                bounds=bounds,
                columns=columns,
                seq_len=seq_len,
                out_dir=out_dir,
                task=task,
                target=target,
                horizon=horizon,
                context_len=context_len,
                season=season,
            )
            if task == "generate":
                _show_table(cfg)
        else:
            assert config is not None
            cfg = load_config(config)
    except (ConfigError, OSError, ValueError) as exc:
        _fail(f"{config or data}: {exc}")
        return
    if steps is not None:
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, steps=steps))
    if budget_s is not None:
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, budget_s=budget_s))
    if out_dir is not None:
        cfg = dataclasses.replace(cfg, out_dir=out_dir)
    try:
        if nproc > 1:
            launch(cfg, nproc)
        else:
            run_training(cfg)
    except (FileNotFoundError, ValueError, RankFailed) as exc:
        _fail(str(exc))
    if int(os.environ.get("RANK", "0")) != 0:  # torchrun: rank 0 alone reports
        return
    typer.echo(f"checkpoint: {cfg.run_dir / 'checkpoint.pt'}")
    typer.echo(f"next: rnngan evaluate --run {cfg.run_dir} && rnngan export --run {cfg.run_dir}")


def _show_table(cfg: Any) -> None:
    """Print what was inferred from the user's table (raises TableError on a bad table)."""
    from rnngan.core.tables.infer import describe
    from training.data.tables import spec_from_config

    spec, _ = spec_from_config(cfg.data)
    typer.echo(describe(spec))


@app.command()
def inspect(
    data: Annotated[Path, typer.Option(help="your long table (.csv or .parquet)")],
    id_col: Annotated[str, typer.Option(help="the entity id column")],
    time_col: Annotated[str | None, typer.Option(help="the timestamp column")] = None,
    static: Annotated[str | None, typer.Option(help="static columns (default: inferred)")] = None,
    types: Annotated[str | None, typer.Option(help="type overrides, col=kind,...")] = None,
    bounds: Annotated[str | None, typer.Option(help="declared bounds, col=low:high,...")] = None,
    columns: Annotated[str | None, typer.Option(help="columns to model")] = None,
) -> None:
    """Print the column types, roles, gaps and spacing inferred from a table, without training."""
    try:
        cfg = _table_config(
            data,
            id_col=id_col,
            time_col=time_col,
            name=None,
            static=static,
            types=types,
            bounds=bounds,
            columns=columns,
            seq_len=0,
            out_dir=None,
        )
        _show_table(cfg)
    except (OSError, ValueError) as exc:
        _fail(f"{data}: {exc}")


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
    _logging()
    from training.evaluate.run import evaluate_run

    try:
        metrics = evaluate_run(run, max_entities=max_entities, max_windows=max_windows)
    except FileNotFoundError as exc:
        _fail(str(exc))
        return
    import json

    typer.echo(json.dumps(metrics, indent=2))
    _say_verdict(metrics)


def _say_verdict(metrics: dict[str, Any]) -> None:
    """The verdict last, where a person reads it; a failed one in red, collapse loudly."""
    sub = metrics.get("subsampled")
    if sub and sub["entities_real"] < sub["entities_total"]:
        typer.echo(
            f"subsampled: {sub['entities_real']} of {sub['entities_total']} entities, "
            f"{sub['windows_per_side']} of {sub['windows_available']} windows per side"
        )
    verdict = metrics.get("verdict")
    if verdict is None:
        return
    if verdict["passed"]:
        typer.secho(f"verdict: {verdict['line']}", fg=typer.colors.GREEN)
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
    _logging()
    from training.export import QualityRefused
    from training.export import export as run_export

    try:
        out = run_export(run, models_dir, force=force)
    except FileNotFoundError as exc:
        _fail(str(exc))
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


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    models_dir: Annotated[Path | None, typer.Option(help="model repository")] = None,
    workers: int = 1,
) -> None:
    """Serve the model repository over HTTP (settings also from RNNGAN_* variables).

    On SIGTERM (or Ctrl-C) the server stops accepting connections, lets in-flight requests and
    streams finish for up to RNNGAN_SHUTDOWN_TIMEOUT_S seconds, and exits 0."""
    import signal

    import uvicorn

    from service.config import Settings
    from service.logging_setup import configure_logging

    if models_dir is not None:
        os.environ["RNNGAN_MODELS_DIR"] = str(models_dir)
    try:
        settings = Settings()
    except ValueError as exc:  # pydantic's ValidationError: a bad RNNGAN_* value
        _fail(f"invalid setting: {exc}")
        return
    configure_logging(settings.log_format, settings.log_level)
    options: dict[str, Any] = {
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        "log_config": None,  # service.logging_setup formats every line, uvicorn's too
        "access_log": False,  # the service writes one access line per request, with its id
        "timeout_graceful_shutdown": settings.shutdown_timeout_s,
    }
    if workers > 1:
        # uvicorn's process manager passes SIGTERM on to each worker, which drains gracefully.
        uvicorn.run("service.main:create_app", **options)
        return
    server = uvicorn.Server(uvicorn.Config("service.main:create_app", **options))
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal to run the handler
    # that was there before it; with the default handler the process would die of SIGTERM
    # (status -15) after a clean shutdown. A no-op handler makes that last step a clean exit 0.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        server.run()
    except KeyboardInterrupt:  # Ctrl-C re-raised the same way: also a clean stop
        pass
    if not server.started:
        raise typer.Exit(code=3)  # could not start (port in use, models_dir unreadable ...)


def _duration(text: str) -> float:
    """'30m', '1h', '90s', '1h30m' or plain seconds -> seconds; exits 2 when unreadable."""
    import re

    parts = re.fullmatch(
        r"\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*"
        r"(?:(\d+(?:\.\d+)?)s?)?\s*",
        text,
    )
    if not text.strip() or parts is None or not any(parts.groups()):
        _fail(f"--budget {text!r}: expected a duration such as 30m, 1h, 90s or 1h30m")
    assert parts is not None
    hours, minutes, seconds = (float(g) if g else 0.0 for g in parts.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        _fail(f"--budget {text!r}: the budget must be longer than zero")
    return total


def _conditions(items: list[str] | None) -> dict[str, Any] | None:
    """--condition region=north --condition size=2 -> {"region": "north", "size": 2}."""
    import json

    if not items:
        return None
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            _fail(f"--condition {item!r}: expected column=value")
        try:
            out[key] = json.loads(value)  # numbers and true/false
        except ValueError:
            out[key] = value  # a category label
    return out


@app.command()
def generate(
    model: Annotated[str, typer.Option(help="model name in the repository")],
    out: Annotated[Path, typer.Option(help="output file ('-' for stdout)")],
    n: int = 1000,
    length: Annotated[
        int | None, typer.Option(help="default: the model's seq_len (tables: drawn lengths)")
    ] = None,
    seed: int = 0,
    offset: int = 0,
    format: Annotated[
        str, typer.Option(help="csv, parquet or ndjson; image models: parquet, png, json or npy")
    ] = "csv",
    compression: Annotated[str, typer.Option(help="none or gzip (csv, ndjson)")] = "none",
    prompt: Annotated[str | None, typer.Option(help="text image models: what to draw")] = None,
    label: Annotated[int | None, typer.Option(help="label image models: the class")] = None,
    condition: Annotated[
        list[str] | None, typer.Option(help="table models: static column=value (repeatable)")
    ] = None,
    start: Annotated[str | None, typer.Option(help="table models: first timestamp")] = None,
    impute: Annotated[bool, typer.Option(help="table models: fill the gaps")] = False,
    models_dir: Annotated[Path, typer.Option(help="model repository")] = Path("models"),
    chunk_series: int = 4096,
    engine: Annotated[
        str, typer.Option(help="local (this process) or ray (needs rnngan[ray]); ray writes parts")
    ] = "local",
    rows_per_file: Annotated[
        int | None,
        typer.Option(help="write --out as a directory of parts of about this many rows each"),
    ] = None,
    address: Annotated[
        str | None, typer.Option(help="--engine ray: cluster address ('auto'); default: local")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="--engine ray: actors (default: one per cluster CPU)")
    ] = None,
    gpus_per_worker: Annotated[
        float, typer.Option(help="--engine ray: GPUs per actor (CUDA with onnxruntime-gpu)")
    ] = 0.0,
) -> None:
    """Write a synthetic data set offline: the same bytes as POST /v1/models/{name}/datasets.

    With --rows-per-file (or --engine ray), --out is a directory of part files plus a
    _SUCCESS manifest; part k equals `generate --n <its n> --offset <its start>` byte for
    byte, and a rerun keeps the parts whose checksums match (docs/scaling.md)."""
    _logging()
    from pydantic import ValidationError
    from tqdm import tqdm

    from service.config import Settings
    from service.errors import ServiceError
    from service.plans import plan_dataset
    from service.registry import Registry
    from service.schemas import DatasetRequest
    from service.streaming import dataset_stream

    if format in ("png", "json", "npy"):  # one image file, the bytes of POST .../images
        _generate_images(
            model, out, models_dir, n=n, seed=seed, prompt=prompt, label=label, fmt=format
        )
        return
    start_value: str | float | None = start
    if start is not None:
        try:
            start_value = float(start)  # numeric time columns
        except ValueError:
            pass
    try:
        req = DatasetRequest.model_validate(
            {
                "n": n,
                "length": length,
                "seed": seed,
                "offset": offset,
                "format": format,
                "compression": compression,
                "condition": _conditions(condition),
                "start": start_value,
                "impute": impute,
                "label": label,
                "prompt": prompt,
            }
        )
    except ValidationError as exc:
        _fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
        return
    if engine not in ("local", "ray"):
        _fail(f"--engine must be local or ray (got {engine!r})")
        return
    if rows_per_file is not None or engine == "ray":
        _generate_parts(
            req,
            model=model,
            out=out,
            models_dir=models_dir,
            chunk_series=chunk_series,
            engine=engine,
            rows_per_file=1_000_000 if rows_per_file is None else rows_per_file,
            address=address,
            workers=workers,
            gpus_per_worker=gpus_per_worker,
        )
        return
    # Offline there is no server to protect: no row or length limits.
    settings = Settings(models_dir=models_dir, max_dataset_rows=2**62, max_length=2**31)
    registry = Registry(settings)
    registry.reload()
    loaded = registry.get(model)
    if loaded is None:
        _fail(f"model '{model}' not found in {models_dir}; found: {sorted(registry.models)}")
        return
    if loaded.manifest.task not in ("generate", "image"):
        _fail(f"model '{model}' is a {loaded.manifest.task} model, not a generate model")
        return
    bar = tqdm(total=None, unit="rows", disable=str(out) == "-", file=sys.stderr)
    try:
        if loaded.manifest.image is not None:  # parquet rows of images (service/images.py)
            from service import images
            from service.plans import plan_image_dataset

            image_plan = plan_image_dataset(loaded, req, settings)
            stream = images.dataset_stream(loaded, image_plan, on_rows=bar.update)
        else:
            plan = plan_dataset(loaded, req, settings, chunk_series=chunk_series)
            stream = dataset_stream(loaded, plan, on_rows=bar.update)
    except ServiceError as exc:
        bar.close()
        _fail(exc.detail)
        return
    sink = sys.stdout.buffer if str(out) == "-" else out.open("wb")
    try:
        for data in stream:
            sink.write(data)
    finally:
        bar.close()
        if sink is not sys.stdout.buffer:
            sink.close()


def _generate_images(
    model: str,
    out: Path,
    models_dir: Path,
    *,
    n: int,
    seed: int,
    prompt: str | None,
    label: int | None,
    fmt: str,
) -> None:
    """`generate --format png|json|npy`: the bytes POST /v1/models/{name}/images answers
    (words read as <unk> are logged)."""
    from pydantic import ValidationError

    from service import images
    from service.config import Settings
    from service.errors import ServiceError
    from service.plans import plan_images
    from service.registry import Registry
    from service.schemas import ImagesRequest

    try:
        req = ImagesRequest.model_validate(
            {"n": n, "seed": seed, "prompt": prompt, "label": label, "format": fmt}
        )
    except ValidationError as exc:
        _fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
        return
    settings = Settings(models_dir=models_dir, max_images=2**31)
    registry = Registry(settings)
    registry.reload()
    loaded = registry.get(model)
    if loaded is None or loaded.manifest.image is None:
        _fail(f"model '{model}' is not an image model in {models_dir}: {sorted(registry.models)}")
        return
    try:
        plan = plan_images(loaded, req, settings)
        pixels = images.pixel_units(images.generate_images(loaded, plan), plan.spec.pixel_max)
    except ServiceError as exc:
        _fail(exc.detail)
        return
    if plan.unknown_words:
        logging.getLogger("rnngan.generate").warning(
            "words read as <unk>: %s", ", ".join(plan.unknown_words)
        )
    data = images.encode(loaded, plan, pixels, prompt)
    if str(out) == "-":
        sys.stdout.buffer.write(data)
    else:
        out.write_bytes(data)


def _generate_parts(req: Any, *, model: str, out: Path, models_dir: Path, **options: Any) -> None:
    """`generate` into a directory of parts (rnngan/scale/), with the local or the Ray engine."""
    from rnngan.scale.output import LocalEngine, run_job
    from rnngan.scale.parts import JobError, load_model, offline_settings, plan_job

    engine, address = options["engine"], options["address"]
    if str(out) == "-":
        _fail("parts go to a directory: give --out DIR (not '-')")
        return
    if engine == "ray":
        try:
            from rnngan.scale.ray import RayEngine
        except ImportError as exc:
            _fail(str(exc))
            return
    settings = offline_settings(models_dir)
    try:
        loaded = load_model(settings, model)
        job = plan_job(
            loaded,
            settings,
            n=req.n,
            seed=req.seed,
            offset=req.offset,
            length=req.length,
            format=req.format,
            compression=req.compression,
            condition=req.condition,
            start=req.start,
            impute=req.impute,
            rows_per_file=options["rows_per_file"],
            chunk_series=options["chunk_series"],
        )
        del loaded  # each engine loads the job's version itself
        if engine == "ray":
            with RayEngine(
                settings,
                address=address,
                workers=options["workers"],
                gpus_per_worker=options["gpus_per_worker"],
            ) as ray_engine:
                summary = run_job(job, out, ray_engine)
        else:
            summary = run_job(job, out, LocalEngine(settings))
    except JobError as exc:
        _fail(str(exc))
        return
    typer.echo(summary.line())


def main() -> None:
    app()


if __name__ == "__main__":
    main()
