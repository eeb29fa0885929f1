"""rnngan serving package: ONNX Runtime inference behind FastAPI. Never imports torch or
training; the manifest and own-table decoding come from `rnngan.core`."""
