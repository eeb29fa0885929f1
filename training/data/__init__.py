"""Data sets, loaded and windowed with scalers fit on the training split only: `series.py` for
the built-in series (docs/quality.md), `tables.py` for the user's own long table."""
