"""The API's entry point: its options and `main`, shared by `python -m serving` and `xfmr serve` (one code path).

Kept apart from the app so `xfmr` can offer the same options without importing the service.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The API's command-line options."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1; 0.0.0.0 in a container)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")


def serve_main(args: argparse.Namespace) -> int:
    """Run the API with settings from the environment until SIGTERM (drains requests, flushes the log)."""
    from serving.app import run

    run(args.host, args.port)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m serving`: the API's entry point in the serving image (no Prefect)."""
    parser = argparse.ArgumentParser(prog="python -m serving", description="Run the xfmr scoring API.")
    add_serve_arguments(parser)
    return serve_main(parser.parse_args(argv))
