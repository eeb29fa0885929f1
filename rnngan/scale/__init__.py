"""Bulk generation in parts, on one process or a Ray cluster (docs/scaling.md).

A job is one `rnngan generate` request split into parts by series range: part `k` holds series
`start_k … start_k+n_k-1` and is byte for byte the file that
`rnngan generate --n n_k --offset start_k ...` writes in one process. Parts are written under a
temporary name and renamed, checked by sha256 on a rerun, and `_SUCCESS` (the manifest of the
whole job) is written last.

- `parts`:  the job and its parts, one model load, one part written (no Ray).
- `output`: the output directory: resume records, `_SUCCESS`, the local engine, `run_job`.
- `ray`:    the Ray engine (actors that each load the model once) and `synthetic_dataset`;
            imported only when asked for, so the plain and serving installs never import Ray.
"""
