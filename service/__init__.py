"""rnngan serving package: ONNX Runtime inference behind FastAPI. Never imports torch."""

__version__ = "0.1.0"
