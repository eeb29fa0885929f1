"""Own tables: a long table (one row per entity and time) in, synthetic data in the same layout
out. `spec` (pydantic, saved in the manifest), `infer` (trainer: frame -> spec), `codec`
(entities <-> model channels) and `sample` (seed -> series). Import from the submodules: this
package imports nothing so that the spec stays free of pandas and pyarrow."""
