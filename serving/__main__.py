"""`python -m serving [--host H] [--port P]`: run the scoring API (the container's entry point)."""

from __future__ import annotations

import argparse

from serving.app import run

parser = argparse.ArgumentParser(prog="python -m serving", description="Run the xfmr scoring API.")
parser.add_argument("--host", default="127.0.0.1", help="interface to bind (0.0.0.0 inside a container)")
parser.add_argument("--port", type=int, default=8000)
args = parser.parse_args()
run(args.host, args.port)
