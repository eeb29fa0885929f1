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


@app.command()
def train(
    config: Annotated[Path, typer.Option(help="TOML run config, e.g. configs/sines.toml")],
    steps: Annotated[int | None, typer.Option(help="override train.steps (smoke runs)")] = None,
    out_dir: Annotated[str | None, typer.Option(help="override out_dir")] = None,
) -> None:
    """Train a model; writes <out_dir>/<name>/{checkpoint.pt, losses.jsonl}."""
    _logging()
    import dataclasses

    from training.config import ConfigError, load_config
    from training.train import train as run_training

    try:
        cfg = load_config(config)
    except (ConfigError, OSError) as exc:
        _fail(f"{config}: {exc}")
        return
    if steps is not None:
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, steps=steps))
    if out_dir is not None:
        cfg = dataclasses.replace(cfg, out_dir=out_dir)
    try:
        run_training(cfg)
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    typer.echo(f"checkpoint: {cfg.run_dir / 'checkpoint.pt'}")


@app.command()
def evaluate(run: Annotated[Path, typer.Option(help="run directory, e.g. runs/sines")]) -> None:
    """Measure a trained model's quality on held-out data; writes <run>/metrics.json."""
    _logging()
    from training.evaluate import evaluate_run

    try:
        metrics = evaluate_run(run)
    except FileNotFoundError as exc:
        _fail(str(exc))
        return
    import json

    typer.echo(json.dumps(metrics, indent=2))


@app.command()
def export(
    run: Annotated[Path, typer.Option(help="run directory, e.g. runs/sines")],
    models_dir: Annotated[Path, typer.Option(help="model repository")] = Path("models"),
) -> None:
    """Export the generator to ONNX with its manifest: <models_dir>/<name>/<version>/."""
    _logging()
    from training.export import export as run_export

    try:
        out = run_export(run, models_dir)
    except FileNotFoundError as exc:
        _fail(str(exc))
        return
    typer.echo(f"exported: {out}")


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


@app.command()
def generate(
    model: Annotated[str, typer.Option(help="model name in the repository")],
    out: Annotated[Path, typer.Option(help="output file ('-' for stdout)")],
    n: int = 1000,
    length: Annotated[int | None, typer.Option(help="default: the model's seq_len")] = None,
    seed: int = 0,
    offset: int = 0,
    format: Annotated[str, typer.Option(help="csv, parquet or ndjson")] = "csv",
    compression: Annotated[str, typer.Option(help="none or gzip (csv, ndjson)")] = "none",
    models_dir: Annotated[Path, typer.Option(help="model repository")] = Path("models"),
    chunk_series: int = 4096,
) -> None:
    """Write a synthetic data set offline: the same bytes as POST /v1/models/{name}/datasets."""
    _logging()
    from pydantic import ValidationError
    from tqdm import tqdm

    from service.config import Settings
    from service.datasets import encode_stream
    from service.inference import generate_chunks
    from service.registry import Registry
    from service.schemas import DatasetRequest

    try:
        req = DatasetRequest(
            n=n,
            length=length,
            seed=seed,
            offset=offset,
            format=format,  # type: ignore[arg-type]
            compression=compression,
        )  # type: ignore[arg-type]
    except ValidationError as exc:
        _fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
        return
    registry = Registry(Settings(models_dir=models_dir))
    registry.reload()
    loaded = registry.get(model)
    if loaded is None:
        _fail(f"model '{model}' not found in {models_dir}; found: {sorted(registry.models)}")
        return
    if loaded.manifest.task != "generate":
        _fail(f"model '{model}' is a {loaded.manifest.task} model, not a generate model")
        return
    if req.format == "parquet" and req.compression != "none":
        _fail("compression applies to csv and ndjson; parquet is compressed inside")
    steps = req.length or loaded.manifest.seq_len or 1
    bar = tqdm(total=req.n, unit="series", disable=str(out) == "-", file=sys.stderr)

    def chunks():  # type: ignore[no-untyped-def]
        for start, block in generate_chunks(
            loaded,
            n=req.n,
            length=steps,
            seed=req.seed,
            offset=req.offset,
            chunk_series=chunk_series,
        ):
            bar.update(block.shape[0])
            yield start, block

    stream = encode_stream(
        chunks(),
        features=loaded.manifest.features,
        fmt=req.format,
        header=req.offset == 0,
        compression=req.compression,
    )
    sink = sys.stdout.buffer if str(out) == "-" else out.open("wb")
    try:
        for data in stream:
            sink.write(data)
    finally:
        bar.close()
        if sink is not sys.stdout.buffer:
            sink.close()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
