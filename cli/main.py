"""The `xfmr` entry point: builds the parser from the command groups and turns failures into one line and an exit code."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from cli import accounts, data, demo, deploy, model, monitor, replay, serve
from cli.errors import CommandError, one_line

# Each group exposes `register(subparsers)`; the order is the order of `xfmr --help`.
COMMAND_GROUPS: tuple[ModuleType, ...] = (data, model, serve, replay, monitor, deploy, accounts, demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xfmr",
        description="Power-transformer failure prediction: generate data, train, serve, monitor.",
    )
    parser.add_argument("--debug", action="store_true", help="show the full traceback when a command fails")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in COMMAND_GROUPS:
        group.register(sub)
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
        print(f"xfmr {args.command}: error: {one_line(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:  # anything unexpected still ends in one line, not a stack trace
        if args.debug:
            raise
        print(f"xfmr {args.command}: error: {type(exc).__name__}: {one_line(exc)} (rerun with --debug for details)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
