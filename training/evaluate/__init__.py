"""Quality on held-out data, kept apart from the models (docs/quality.md): `run.py` is the
`rnngan evaluate` stage (it asks the run's family which evaluation applies); `generation.py`,
`forecast.py` and `tables.py` hold the metrics of each kind of model, `scores.py` the forecast
scores training also selects checkpoints by, and `plots.py` the pictures. Nothing here imports a
model family.
"""
