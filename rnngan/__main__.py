"""`python -m rnngan …` is the `rnngan` command; torchrun needs it
(`torchrun --standalone --nproc-per-node 2 -m rnngan train --config …`)."""

from rnngan.cli import main

main()
