"""MQTT topic names of the telemetry stream: `<root>/readings|results/<substation>/<transformer_id>`."""

from __future__ import annotations

import re

DEFAULT_ROOT = "xfmr"
READINGS, RESULTS = "readings", "results"
UNASSIGNED = "unassigned"  # substation of readings whose source does not say
# MQTT reserves '/' (level separator) and the wildcards '+' and '#'; NUL is illegal anywhere.
_RESERVED = re.compile(r"[/+#\x00]")


def topic_level(value: str) -> str:
    """Return `value` usable as one topic level (reserved characters become '_'; empty becomes UNASSIGNED)."""
    cleaned = _RESERVED.sub("_", value.strip())
    return cleaned or UNASSIGNED


def check_root(root: str) -> str:
    """Return the topic root, or raise naming what makes it unusable."""
    if not root or "+" in root or "#" in root or root.startswith("/") or root.endswith("/"):
        raise ValueError(f"MQTT topic root {root!r} must be non-empty, without wildcards or leading/trailing '/'")
    return root


def reading_topic(root: str, substation: str | None, transformer_id: str) -> str:
    return f"{root}/{READINGS}/{topic_level(substation or UNASSIGNED)}/{topic_level(transformer_id)}"


def readings_filter(root: str, share_group: str | None = None) -> str:
    """Subscription for every reading; a shared subscription spreads them over several bridges."""
    plain = f"{root}/{READINGS}/+/+"
    return f"$share/{topic_level(share_group)}/{plain}" if share_group else plain


def results_filter(root: str) -> str:
    return f"{root}/{RESULTS}/+/+"


def result_topic(root: str, reading_topic_name: str) -> str:
    """Return the results topic answering a readings topic of the same substation and unit."""
    prefix = f"{root}/{READINGS}/"
    if not reading_topic_name.startswith(prefix):
        raise ValueError(f"topic {reading_topic_name!r} is not under {prefix!r}")
    return f"{root}/{RESULTS}/{reading_topic_name[len(prefix):]}"
