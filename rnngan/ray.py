"""Synthetic series on Ray (`pip install 'rnngan[ray]'`); see docs/scaling.md.

    import ray
    from rnngan.ray import synthetic_dataset

    ray.init()
    ds = synthetic_dataset("sines", n=1_000_000, seed=1, models_dir="models")
    ds.write_parquet("/shared/sines")      # or any Ray Data transform and sink

`RayEngine` is what `rnngan generate --engine ray` writes parts with.
"""

from rnngan.scale.ray import RayEngine, connect, synthetic_dataset

__all__ = ["RayEngine", "connect", "synthetic_dataset"]
