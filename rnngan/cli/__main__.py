"""`python -m rnngan.cli ...`"""

from rnngan.cli import main

main()
