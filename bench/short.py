"""`--quick`: every benchmark's short mode, a run of seconds that proves it still works.

The figures of a quick run mean little (counts too small, no warm machine); the run fails
only when the benchmark crashes or sees failed requests. tests/test_benchmarks_run.py runs
each benchmark this way, so none stops working unnoticed. Flags given on the command line
win over the quick values.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any


def parse_args(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None = None, **quick: Any
) -> argparse.Namespace:
    """Parse with a `--quick` flag that sets `quick` as the defaults."""
    parser.add_argument(
        "--quick",
        action="store_true",
        help="seconds-long run that checks the benchmark works (figures not meaningful)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        parser.set_defaults(**quick)
        args = parser.parse_args(argv)
    return args
