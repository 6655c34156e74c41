"""`python -m bertlite ...` runs the command line (cli.py)."""

import sys

from .course.cli import main

if __name__ == "__main__":
    sys.exit(main())
