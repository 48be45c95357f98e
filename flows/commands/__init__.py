"""One module per `xfmr` subcommand; each exposes `register(subparsers)`."""

from __future__ import annotations

from types import ModuleType

from flows.commands import accounts, data, demo, model, ops, stream

COMMANDS: tuple[ModuleType, ...] = (data, model, ops, stream, accounts, demo)
