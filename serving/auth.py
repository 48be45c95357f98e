"""API-key check: keys are stored as SHA-256 hashes and compared in constant time; several may be valid at once."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable


def hash_key(key: str) -> str:
    """Return the SHA-256 hex digest stored in XFMR_API_KEYS for a key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyRing:
    """The accepted key hashes (more than one while keys are being rotated)."""

    def __init__(self, hashes: Iterable[str]) -> None:
        self._hashes = tuple(bytes.fromhex(h) for h in hashes)
        if not self._hashes:
            raise ValueError("no API key hashes configured")

    def accepts(self, presented: str) -> bool:
        """Return whether the key matches any stored hash, without revealing which or how closely."""
        digest = hashlib.sha256(presented.encode("utf-8")).digest()
        matched = False
        for stored in self._hashes:  # no early exit: every hash is compared
            matched |= hmac.compare_digest(digest, stored)
        return matched
