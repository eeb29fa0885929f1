"""The rules that training on a user's table (training/data/forecast_calendar.py,
rnngan/cli/table_args.py) and the client mending a forecast request (rnngan/client/gaps.py,
rnngan/client/stamps.py, rnngan/client/forecast.py) must apply alike, so that a request holds
what the model was trained on. Plain values, no dependencies."""

from __future__ import annotations

# A table, or a request, without an id column is one series under this id.
ONE_SERIES = "series"
# Rows missing from an even spacing are inserted (as missing values, then filled) up to this
# share of all rows ...
MOST_INSERTED = 0.2
# ... and of any one series' rows.
MOST_INSERTED_SERIES = 0.5
# A stamp off its step by less than this share of a step is on it (clock jitter).
ON_STEP = 1e-3
# A timetable (business hours, a market's session): this share of its full days hold the same
# n rows at the same n times of day.
TIMETABLE_DAYS = 0.9
