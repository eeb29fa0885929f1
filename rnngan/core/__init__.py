"""The torch-free, FastAPI-free core shared by training and the service: the manifest contract,
the counter-based noise, and own tables (spec, inference, codec, sampling)."""
