"""The serving commands: serve the model repository, and generate what the service would,
offline (one file, or parts on this machine or a Ray cluster). Only the serving set is needed."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from rnngan.cli.common import app, conditions, fail, setup_logging


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

    from rnngan.cli.drain import DrainingServer
    from service.config import Settings
    from service.logging_setup import configure_logging

    if models_dir is not None:
        os.environ["RNNGAN_MODELS_DIR"] = str(models_dir)
    try:
        settings = Settings()
    except ValueError as exc:  # pydantic's ValidationError: a bad RNNGAN_* value
        fail(f"invalid setting: {exc}")
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
        # uvicorn's process manager passes SIGTERM on to each worker, which drains gracefully;
        # its workers run uvicorn's own server class (not DrainingServer's settling first).
        uvicorn.run("service.main:create_app", **options)
        return
    # One worker: the server answers the requests already sent when SIGTERM comes (drain.py).
    server = DrainingServer(uvicorn.Config("service.main:create_app", **options))
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
    setup_logging()
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
                "condition": conditions(condition),
                "start": start_value,
                "impute": impute,
                "label": label,
                "prompt": prompt,
            }
        )
    except ValidationError as exc:
        fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
        return
    if engine not in ("local", "ray"):
        fail(f"--engine must be local or ray (got {engine!r})")
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
        fail(f"model '{model}' not found in {models_dir}; found: {sorted(registry.models)}")
        return
    if loaded.manifest.task not in ("generate", "image"):
        fail(f"model '{model}' is a {loaded.manifest.task} model, not a generate model")
        return
    from service import images
    from service.plans import plan_image_dataset

    try:
        if loaded.manifest.image is not None:  # parquet rows of images (service/images.py)
            image_plan = plan_image_dataset(loaded, req, settings)
            total, unit = image_plan.n, "images"
        else:
            plan = plan_dataset(loaded, req, settings, chunk_series=chunk_series)
            total, unit = (
                plan.table.rows if plan.table is not None else plan.n * plan.length,
                "rows",
            )
    except ServiceError as exc:
        fail(exc.detail)
        return
    # The total is known up front: the bar shows the rate and the time left (stderr; none for
    # --out -).
    bar = tqdm(
        total=total,
        unit=unit,
        unit_scale=total >= 100_000,
        disable=str(out) == "-",
        file=sys.stderr,
    )
    if loaded.manifest.image is not None:
        stream = images.dataset_stream(loaded, image_plan, on_rows=bar.update)
    else:
        stream = dataset_stream(loaded, plan, on_rows=bar.update)
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
        fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
        return
    settings = Settings(models_dir=models_dir, max_images=2**31)
    registry = Registry(settings)
    registry.reload()
    loaded = registry.get(model)
    if loaded is None or loaded.manifest.image is None:
        fail(f"model '{model}' is not an image model in {models_dir}: {sorted(registry.models)}")
        return
    try:
        plan = plan_images(loaded, req, settings)
        pixels = images.pixel_units(images.generate_images(loaded, plan), plan.spec.pixel_max)
    except ServiceError as exc:
        fail(exc.detail)
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
        fail("parts go to a directory: give --out DIR (not '-')")
        return
    if engine == "ray":
        try:
            from rnngan.scale.ray import RayEngine
        except ImportError as exc:
            fail(str(exc))
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
        fail(str(exc))
        return
    typer.echo(summary.line())
