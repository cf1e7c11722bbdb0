"""``python -m trackstream_simulator``: the same as ``trackstream-simulate``."""

import sys

from trackstream_simulator.cli import main

if __name__ == "__main__":
    sys.exit(main())
