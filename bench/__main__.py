"""`python -m bench WORKLOAD ...`: the same load generator as `engine bench WORKLOAD ...`
(engine/cli/bench.py), for running it from a checkout without the console script."""

from __future__ import annotations

import sys

from engine.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
