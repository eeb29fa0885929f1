# syntax=docker/dockerfile:1
# rnngan images. Targets:
#   serve      ONNX Runtime on the GPU (onnxruntime-gpu), no torch  -> docker-compose.yml
#   serve-cpu  ONNX Runtime on the CPU (onnxruntime), no torch      -> docker-compose.cpu.yml
#   train      torch for `rnngan train / evaluate / export`         -> compose profile "train"
#
# onnxruntime-gpu 1.31.1 (the `gpu` extra in pyproject.toml) is built against CUDA 13.x and
# cuDNN 9.x (its wheel's `cuda` / `cudnn` extras pin nvidia-cuda-runtime~=13.0 and
# nvidia-cudnn-cu13~=9.0), so the GPU image starts from NVIDIA's CUDA 13 + cuDNN 9 runtime.
ARG CUDA_IMAGE=nvidia/cuda:13.0.1-cudnn-runtime-ubuntu24.04
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- GPU serving ---------------------------------------------------------------------------
FROM ${CUDA_IMAGE} AS serve
ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    OMP_WAIT_POLICY=PASSIVE \
    RNNGAN_MODELS_DIR=/models \
    RNNGAN_DEVICE=cuda \
    RNNGAN_WORKERS=1
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
# One uvicorn worker per GPU: set RNNGAN_WORKERS to the number of GPUs given to the container.
# `exec` makes rnngan PID 1, so SIGTERM reaches it and in-flight requests drain (exit 0).
CMD ["sh", "-c", "exec rnngan serve --host 0.0.0.0 --port 8000 --workers \"$RNNGAN_WORKERS\""]

# --- CPU serving ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS serve-cpu
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OMP_WAIT_POLICY=PASSIVE \
    RNNGAN_MODELS_DIR=/models \
    RNNGAN_DEVICE=cpu \
    RNNGAN_WORKERS=1
RUN useradd --create-home --uid 10001 rnngan
WORKDIR /app
COPY pyproject.toml README.md ./
COPY rnngan ./rnngan
COPY service ./service
RUN pip install --no-cache-dir ".[serve]"
COPY --chown=10001:10001 models /models
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["sh", "-c", "exec rnngan serve --host 0.0.0.0 --port 8000 --workers \"$RNNGAN_WORKERS\""]

# --- training ------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS train
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OMP_WAIT_POLICY=PASSIVE
RUN useradd --create-home --uid 10001 rnngan
WORKDIR /app
COPY pyproject.toml README.md ./
COPY rnngan ./rnngan
COPY service ./service
COPY training ./training
COPY benchmarks ./benchmarks
COPY configs ./configs
# The serving set too: export checks the ONNX file with ONNX Runtime.
RUN pip install --no-cache-dir ".[serve,train]" \
    && mkdir -p /app/runs && chown 10001:10001 /app/runs
USER 10001
# Configs read ../shared/data/*.csv relative to /app: mount the data at /shared/data.
ENTRYPOINT ["rnngan"]
CMD ["--help"]
