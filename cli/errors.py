"""The failure a command reports to its user: one line on stderr and exit code 1."""

from __future__ import annotations

MAX_REASON = 400


class CommandError(Exception):
    """A failure the user can act on: printed as one line, exit code 1."""


def one_line(exc: BaseException) -> str:
    """Return the exception's message on one line, shortened to MAX_REASON characters."""
    reason = " ".join(str(exc).split()) or type(exc).__name__
    return reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 1] + "…"
