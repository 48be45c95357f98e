"""API-key tool: `python -m serving.keys new` prints a fresh key and the hash to put in XFMR_API_KEYS."""

from __future__ import annotations

import argparse
import secrets
import sys
from collections.abc import Sequence

from serving.auth import hash_key


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serving.keys", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("new", help="print a new random key (give it to the client) and its hash (give it to the service)")
    hash_cmd = sub.add_parser("hash", help="print the hash of an existing key (read from stdin when omitted)")
    hash_cmd.add_argument("key", nargs="?")
    args = parser.parse_args(argv)
    if args.command == "new":
        key = secrets.token_urlsafe(32)
        print(f"key:  {key}")
        print(f"hash: {hash_key(key)}")
        print("add the hash to XFMR_API_KEYS (comma-separated; keep the old hash there until clients have the new key)")
        return 0
    key = args.key if args.key is not None else sys.stdin.readline().strip()
    if not key:
        print("serving.keys hash: error: empty key", file=sys.stderr)
        return 1
    print(hash_key(key))
    return 0


if __name__ == "__main__":
    sys.exit(main())
