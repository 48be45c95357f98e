"""`python -m serving.bridge`: run the MQTT bridge (serving.mqtt_bridge) — its options and entry point.

Kept apart from the bridge itself so `xfmr` can offer the same options without importing the model code.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from serving.mqtt_topics import DEFAULT_ROOT

if TYPE_CHECKING:
    from serving.mqtt_bridge import BridgeOptions


def add_bridge_arguments(parser: argparse.ArgumentParser) -> None:
    """The bridge's command-line options (`python -m serving.bridge` and `xfmr bridge`)."""
    parser.add_argument("--broker-host", default="127.0.0.1", help="MQTT broker host (default 127.0.0.1)")
    parser.add_argument("--broker-port", type=int, default=1883, help="MQTT broker port (default 1883; 8883 for TLS)")
    parser.add_argument("--topic-root", default=DEFAULT_ROOT, help=f"first topic level (default {DEFAULT_ROOT})")
    parser.add_argument("--qos", type=int, choices=[0, 1, 2], default=1, help="MQTT QoS (default 1)")
    parser.add_argument("--client-id", default="xfmr-bridge", help="MQTT client id: the broker keeps its session")
    parser.add_argument("--share-group", default=None, help="shared subscription group, to run several bridges")
    parser.add_argument("--max-batch", type=int, default=500, help="readings scored together at most (default 500)")
    parser.add_argument("--no-explain", action="store_true", help="skip top contributing features (much faster)")
    parser.add_argument("--heartbeat", type=Path, default=None, metavar="FILE",
                        help="touch FILE every 5 s while connected, subscribed and serving (for a health check)")


def options_from(args: argparse.Namespace, environ: Mapping[str, str]) -> BridgeOptions:
    """BridgeOptions from the parsed options. The broker login and CA bundle come from the environment, never
    the command line: XFMR_MQTT_USERNAME, XFMR_MQTT_PASSWORD (or XFMR_MQTT_PASSWORD_FILE, e.g. a compose
    secret), XFMR_MQTT_CA_FILE (TLS). No username: the bridge connects anonymously."""
    from serving.mqtt_bridge import BridgeOptions

    password = environ.get("XFMR_MQTT_PASSWORD") or None
    password_file = environ.get("XFMR_MQTT_PASSWORD_FILE")
    if password is None and password_file:
        if not Path(password_file).is_file():
            raise FileNotFoundError(f"XFMR_MQTT_PASSWORD_FILE {password_file}: no such file")
        password = Path(password_file).read_text().strip() or None
    return BridgeOptions(topic_root=args.topic_root, client_id=args.client_id, share_group=args.share_group,
                         qos=args.qos, max_batch=args.max_batch, explain=not args.no_explain,
                         username=environ.get("XFMR_MQTT_USERNAME") or None, password=password,
                         ca_file=environ.get("XFMR_MQTT_CA_FILE") or None, heartbeat_path=args.heartbeat)


def bridge_main(args: argparse.Namespace) -> int:
    """Run the bridge with serving settings from the environment until SIGTERM; print what it did."""
    from serving.mqtt_bridge import run_bridge
    from serving.settings import load_settings

    settings = load_settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stats = run_bridge(settings, args.broker_host, args.broker_port, options=options_from(args, os.environ))
    rejected = sum(stats.rejected.values())
    print(f"bridge stopped: received {stats.received:,}, scored {stats.scored:,}, duplicates {stats.duplicates:,}, "
          f"rejected {rejected:,}, results published {stats.published:,}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m serving.bridge`: the bridge's entry point in the serving image (no Prefect)."""
    parser = argparse.ArgumentParser(prog="python -m serving.bridge",
                                     description="Score readings arriving over MQTT and publish the results.")
    add_bridge_arguments(parser)
    return bridge_main(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
