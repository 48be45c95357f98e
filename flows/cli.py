"""The `xfmr` command line: parses arguments and turns failures into a one-line reason and exit code."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from flows.commands import COMMANDS


class CommandError(Exception):
    """A failure the user can act on: printed as one line, exit code 1."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xfmr",
        description="Power-transformer failure prediction: generate data, train, serve, monitor.",
    )
    parser.add_argument("--debug", action="store_true", help="show the full traceback when a command fails")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print(f"xfmr {args.command}: interrupted", file=sys.stderr)
        return 130
    except (CommandError, ValueError, FileNotFoundError, PermissionError) as exc:
        if args.debug:
            raise
        print(f"xfmr {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:  # anything unexpected still ends in one line, not a stack trace
        if args.debug:
            raise
        print(f"xfmr {args.command}: error: {type(exc).__name__}: {_one_line(exc)} (rerun with --debug for details)",
              file=sys.stderr)
        return 1


MAX_REASON = 400


def _one_line(exc: BaseException) -> str:
    reason = " ".join(str(exc).split()) or type(exc).__name__
    return reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 1] + "…"


if __name__ == "__main__":
    sys.exit(main())
