"""Data sets, loaded and windowed with scalers fit on the training split only: `series.py` for
the built-in series (PROTOCOL.md §3), `tables.py` for the user's own long table."""
