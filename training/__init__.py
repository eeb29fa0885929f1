"""rnngan training package (torch): data, networks, losses, training loops, evaluation, export."""
