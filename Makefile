# rnngan — the two commands: `make serve` and `make test`.
#
# Thread policy (2-core hosts): OpenMP threads wait passively, torch and ONNX Runtime thread
# counts are set explicitly in configs/ and service settings.
export OMP_WAIT_POLICY := PASSIVE

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# ORT=gpu installs onnxruntime-gpu instead of onnxruntime (never both in one environment).
ORT ?= cpu
SERVE_EXTRA := $(if $(filter gpu,$(ORT)),gpu,serve)

.PHONY: dev serve test lint format schema train clean help bench bench-forecast bench-generation bench-serving bench-load bench-datasets bench-tables bench-batch-cost bench-ray bench-gpu bench-memory bench-ddp bench-panel bench-panel-scale bench-images bench-ablation bench-covariates bench-static bench-short bench-client bench-heavy-panel bench-classifier docs-check

help:
	@echo "make serve   create $(VENV), install the serving set, serve models/ on $(HOST):$(PORT)"
	@echo "make test    install everything, run the test suite"
	@echo "make lint    ruff + mypy"
	@echo "make dev     create $(VENV) with the training and dev extras (rnngan train --data ...)"
	@echo "make train-sines | train-etth1-ot   reproduce the shipped models"

$(BIN)/python:
	@echo "creating the virtual environment $(VENV) ($(PYTHON))"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# pip shows each package it fetches and a progress bar per download (about a minute the first
# time; then nothing to do until pyproject.toml changes).
$(VENV)/.serve-$(SERVE_EXTRA): pyproject.toml | $(BIN)/python
	@echo "installing the serving set (rnngan[$(SERVE_EXTRA)]: FastAPI, ONNX Runtime, pyarrow ...) into $(VENV)"
	$(BIN)/pip install --progress-bar on -e '.[$(SERVE_EXTRA)]'
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[serve,train,dev]'
	touch $@

dev: $(VENV)/.dev

serve: $(VENV)/.serve-$(SERVE_EXTRA)
	@echo "starting rnngan serve on http://$(HOST):$(PORT) (models: RNNGAN_MODELS_DIR, from the environment or .env; default models/); Ctrl-C stops"
	$(BIN)/rnngan serve --host $(HOST) --port $(PORT)

test: $(VENV)/.dev
	$(BIN)/python -m pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy service rnngan/core

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

schema: $(VENV)/.dev
	$(BIN)/python -m rnngan.core.manifest > rnngan/core/manifest.schema.json

# Each shipped model: train, measure on held-out data, export with the metrics in the manifest.
train-%: $(VENV)/.dev
	$(BIN)/rnngan train --config configs/$(subst -,_,$*).toml
	$(BIN)/rnngan evaluate --run runs/$(subst -,_,$*)
	$(BIN)/rnngan export --run runs/$(subst -,_,$*) --models-dir models $(EXPORT_FLAGS)

# energy's verdict suspects collapse (docs/generation.md says which checks fail): it is shipped
# anyway, as energy/2 was, being better than version 1 on every score.
train-energy: EXPORT_FLAGS = --force

train: train-sines train-stocks train-energy train-etth1 train-etth1-ot train-traffic-a5m train-digits train-digits-text

clean:
	rm -rf runs .pytest_cache .ruff_cache .mypy_cache

# Benchmarks: figures written to benchmarks/results/ and docs/.
bench-forecast: $(VENV)/.dev
	$(BIN)/python -m benchmarks.forecast

# The panel forecaster on five panels (one of short series, one quarterly) through `rnngan train --data` vs
# SeasonalNaive, AutoETS, AutoARIMA (benchmarks/results/panel.json, the panel table in docs/forecast.md).
# One setting of the own-table generation recipe changed at a time, on the stores example
# (benchmarks/results/ablation.json, docs/ablation.md).
bench-ablation: $(VENV)/.dev
	$(BIN)/python -m benchmarks.ablation

bench-panel: $(VENV)/.dev
	$(BIN)/python -m benchmarks.panel

# The panel forecaster on 400 hourly series of 700-960 rows at the defaults: wall time and peak
# memory of `rnngan train` and `rnngan evaluate`, the ratios to the seasonal naive
# (benchmarks/results/panel_scale.json, a block in docs/forecast.md).
bench-panel-scale: $(VENV)/.dev
	$(BIN)/python -m benchmarks.panel_scale

# Known-future covariates on a synthetic promotions panel: with vs without --future-cols
# (benchmarks/results/covariates.json, docs/forecast.md)
bench-covariates: $(VENV)/.dev
	$(BIN)/python -m benchmarks.covariates

# Static attributes on a synthetic buildings panel: with vs without --static-cols
# (benchmarks/results/statics.json, docs/forecast.md)
bench-static: $(VENV)/.dev
	$(BIN)/python -m benchmarks.statics

# Series shorter than the context: the energy panel forecast from the last L values of each
# history, trained with and without short histories (benchmarks/results/short.json, docs/forecast.md)
bench-short: $(VENV)/.dev
	$(BIN)/python -m benchmarks.short

# The shipped digit models through ONNX Runtime vs the real data's scores
# (benchmarks/results/images.json, docs/images.md, docs/images_grid.png).
bench-images: $(VENV)/.dev
	$(BIN)/python -m benchmarks.images

# Trains, evaluates and exports each shipped generator (about 2 hours); energy is exported with
# --force, as `make train-energy` does (its verdict suspects collapse; docs/generation.md says so).
bench-generation: $(VENV)/.dev
	$(BIN)/python -m benchmarks.generation --force energy

# The shipped generators' discriminative scores with the post-hoc classifier trained 2,000 (the
# protocol) and 8,000 steps, 3 seeds each, floors beside; then each channel alone and the score
# without the channels found alone (docs/quality.md). About 40 minutes for Energy.
bench-classifier: $(VENV)/.dev
	$(BIN)/python -m benchmarks.classifier

# ONNX Runtime cost per request by requests per call (sets RNNGAN_BATCH_MAX_ROWS).
bench-batch-cost: $(VENV)/.dev
	$(BIN)/python -m benchmarks.batch_cost

# Own tables end to end with the `rnngan train --data` defaults (docs/tables.md).
bench-tables: $(VENV)/.dev
	$(BIN)/python -m benchmarks.tables

# Serving under load: 60 s of concurrent clients on a copy of models/, a version swapped in
# half-way, SIGTERM at the end (benchmarks/results/load.json).
bench-load: $(VENV)/.dev
	$(BIN)/python -m benchmarks.load --duration 60

bench-serving: $(VENV)/.dev
	$(BIN)/python -m benchmarks.serving

# Bulk data sets: generator, writer, in-process and HTTP rows/s per format, server RSS at
# 1 M and 10 M rows (benchmarks/results/datasets.json, docs/datasets.md). One format again, the
# others kept: make bench-datasets DATASETS_ARGS="--only csv+gzip".
DATASETS_ARGS ?=
bench-datasets: $(VENV)/.dev
	$(BIN)/python -m benchmarks.datasets $(DATASETS_ARGS)

# Server memory under in-limit load: one forecast at the limit, 50 concurrent forecasts,
# aborted 2 M-series downloads; peak and after-load RSS (benchmarks/results/memory.json).
bench-memory: $(VENV)/.dev
	$(BIN)/python -m benchmarks.memory

bench: bench-generation bench-forecast bench-panel bench-tables bench-load bench-serving bench-datasets bench-memory bench-images

# Bulk generation: the single-process CLI vs a local Ray cluster of 2 CPUs on 10 M rows, parts
# byte-identical, worker RSS, resume (benchmarks/results/ray.json, docs/scaling.md).
bench-ray: $(VENV)/.dev
	$(BIN)/python -m benchmarks.ray_generate

# CUDA vs CPU (serving routes, a training step); installs nothing: run it in an environment with
# onnxruntime-gpu (and torch with CUDA). Without a GPU it records "not run" and exits 0.
bench-gpu:
	$(BIN)/python -m benchmarks.gpu

# Data-parallel training: sines as an RCGAN and as a TimeGAN, 1 process vs torchrun
# --nproc-per-node 2 (DDP, gloo), same steps and global batch: time, losses, discriminative
# score (benchmarks/results/ddp.json; --only timegan reruns one family).
bench-ddp: $(VENV)/.dev
	$(BIN)/python -m benchmarks.ddp

# A panel whose entity levels span five orders of magnitude through `rnngan train --data` at its
# defaults, 1500 steps (benchmarks/results/heavy_panel.json).
bench-heavy-panel: $(VENV)/.dev
	$(BIN)/python -m benchmarks.heavy_panel

# Each figure file (benchmarks/results/*.json, the docs written from them): is the code its numbers
# depend on at HEAD the code it recorded running on? Exits 1 when any is stale (table and rules:
# benchmarks/provenance.py). Not part of `make test`: a stale figure needs a benchmark rerun.
docs-check: $(VENV)/.dev
	$(BIN)/python -m benchmarks.provenance

# rnngan.client's sharded download of 10 M rows (4 shards) vs one request: a shard's connection
# dropped midway, a killed run resumed; same bytes (benchmarks/results/client.json).
bench-client: $(VENV)/.dev
	$(BIN)/python -m benchmarks.client_download
