# syntax=docker/dockerfile:1
# rnngan images. Targets:
#   serve      ONNX Runtime on the GPU (onnxruntime-gpu), no torch   -> docker-compose.yml
#   serve-cpu  ONNX Runtime on the CPU (onnxruntime), no torch       -> docker-compose.cpu.yml
#   train      torch (CPU) for `rnngan train / evaluate / export`    -> compose profile "train"
#
#   docker build --target serve -t rnngan:serve .
#
# The GPU base image must match what onnxruntime-gpu was built for. onnxruntime-gpu 1.31.1 (the
# `gpu` extra in pyproject.toml) is a CUDA 13 + cuDNN 9 build: its wheel's `cuda` and `cudnn`
# extras require nvidia-cuda-runtime~=13.0 and nvidia-cudnn-cu13~=9.0. CUDA 13 minor versions
# are compatible with each other, so the oldest 13.x line (13.0) asks the least of the host's
# driver (>= 580). Override with --build-arg CUDA_IMAGE=... when NVIDIA retires this tag.
ARG CUDA_IMAGE=nvidia/cuda:13.0.3-cudnn-runtime-ubuntu24.04
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
# Training runs on the CPU (training/ never moves tensors to a GPU), so the train image takes
# torch's CPU build (the pin in pyproject.toml still decides the version) and skips the CUDA
# wheels that the PyPI build of torch pulls in.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

# --- GPU serving -------------------------------------------------------------------------
FROM ${CUDA_IMAGE} AS serve
ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    OMP_WAIT_POLICY=PASSIVE \
    RNNGAN_MODELS_DIR=/models \
    RNNGAN_DEVICE=cuda \
    RNNGAN_WORKERS=1
# Ubuntu 24.04's Python (3.12). Not version-pinned (DL3008): the CUDA base image fixes the
# release, and pinning Ubuntu's patch versions breaks the build whenever the archive moves on.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/venv \
    && useradd --create-home --uid 10001 rnngan
WORKDIR /app
COPY pyproject.toml README.md ./
COPY rnngan ./rnngan
COPY service ./service
RUN pip install --no-cache-dir ".[gpu]"
COPY --chown=10001:10001 models /models
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
# `rnngan serve` is uvicorn on service.main:create_app (factory) with the service's JSON logs
# and a graceful SIGTERM (in-flight requests drain, exit 0); `exec` makes it PID 1 so the
# signal reaches it. RNNGAN_WORKERS uvicorn workers: one per GPU given to the container.
CMD ["sh", "-c", "exec rnngan serve --host 0.0.0.0 --port 8000 --workers \"$RNNGAN_WORKERS\""]

# --- CPU images: shared base ----------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS python-base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OMP_WAIT_POLICY=PASSIVE \
    RNNGAN_MODELS_DIR=/models
RUN useradd --create-home --uid 10001 rnngan
WORKDIR /app
COPY pyproject.toml README.md ./
COPY rnngan ./rnngan
COPY service ./service

# --- CPU serving ---------------------------------------------------------------------------
FROM python-base AS serve-cpu
ENV RNNGAN_DEVICE=cpu \
    RNNGAN_WORKERS=1
# tests/deploy replays this install (the requirement is read from this line) in a clean
# virtual environment and serves the shipped models from it.
RUN pip install --no-cache-dir ".[serve]"
COPY --chown=10001:10001 models /models
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["sh", "-c", "exec rnngan serve --host 0.0.0.0 --port 8000 --workers \"$RNNGAN_WORKERS\""]

# --- training ------------------------------------------------------------------------------
FROM python-base AS train
ARG TORCH_INDEX_URL
COPY training ./training
COPY configs ./configs
# The serving set too: `rnngan export` checks the ONNX graph against torch with ONNX Runtime.
RUN pip install --no-cache-dir --extra-index-url "${TORCH_INDEX_URL}" ".[serve,train]" \
    && mkdir -p /app/runs \
    && chown 10001:10001 /app/runs
# The shipped models here too, so the shared `models` volume starts with them whichever
# service creates it first (Docker fills an empty named volume from the image's directory).
COPY --chown=10001:10001 models /models
USER 10001
# Configs read data/<file>.csv relative to the working directory /app: compose mounts the
# repository's data/ at /app/data.
ENTRYPOINT ["rnngan"]
CMD ["--help"]
