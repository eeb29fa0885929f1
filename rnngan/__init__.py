"""The `rnngan` command line: train, evaluate, export (need the `train` extra), serve and
generate (need only the serving set)."""
