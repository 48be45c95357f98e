"""`xfmr replay`: stream fleet (or your own) readings in time order to the scoring API or an MQTT broker."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flows.settings import load_settings


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a share between 0 and 1, got {text}")
    return value


def register(sub: Any) -> None:
    replay = sub.add_parser(
        "replay",
        help="replay fleet (or your own) readings as a live stream to the scoring API or an MQTT broker",
        description="Send readings in time order: built point-in-time from a fleet folder (one per unit every --step "
        "of data time) or read from your own Parquet/CSV file of readings. Paced at --speed x the data's clock or "
        "--rate readings/s; optionally messy (gaps, repeats, late, out of order, bad values, frozen sensors). Shows "
        "live progress; prints and saves throughput, end-to-end latency, rejects, duplicates and alarms as JSON.",
    )
    source = replay.add_argument_group("source")
    source.add_argument("--data", type=Path, default=None, metavar="DIR",
                        help="fleet folder (default: $XFMR_HOME/data/fleet)")
    source.add_argument("--readings", type=Path, default=None, metavar="FILE",
                        help="your own readings (.parquet/.csv with the reading fields, optional substation column)")
    source.add_argument("--start", default=None, help="first data time to stream, UTC (default: --days before --end)")
    source.add_argument("--end", default=None, help="end of the data window, UTC (default: the last data)")
    source.add_argument("--days", type=float, default=7.0, help="window length when --start is not given (default 7)")
    source.add_argument("--step", default="1h", help="a reading per unit every STEP of data time (default 1h)")
    source.add_argument("--units", default=None, help="comma-separated transformer ids (default: all)")

    pace = replay.add_argument_group("pacing (default --speed 3600)").add_mutually_exclusive_group()
    pace.add_argument("--speed", type=float, default=None, help="N x real time of the data (default 3600: 1 h/s)")
    pace.add_argument("--rate", type=float, default=None, help="fixed readings per second")
    pace.add_argument("--unpaced", action="store_true", help="as fast as the target answers (throughput test)")
    bounds = replay.add_argument_group("bounds")
    bounds.add_argument("--duration", type=float, default=None, metavar="S", help="stop sending after S seconds")
    bounds.add_argument("--max-readings", type=int, default=None, metavar="N", help="stop after N readings")

    http = replay.add_argument_group("HTTP target")
    http.add_argument("--url", default="http://127.0.0.1:8000", help="scoring API (default http://127.0.0.1:8000)")
    http.add_argument("--api-key", default=None, help="API key (prefer --api-key-file: argv is visible to others)")
    http.add_argument("--api-key-file", type=Path, default=None, help="file holding the API key")
    http.add_argument("--batch", type=int, default=1, help="most readings per request (default 1: single readings)")
    http.add_argument("--concurrency", type=int, default=4, help="connections (default 4)")
    http.add_argument("--no-explain", action="store_true", help="skip top contributing features (much faster)")
    http.add_argument("--no-dedupe", action="store_true",
                      help="have readings scored again though the API saw them before (re-running a period)")
    http.add_argument("--ready-timeout", type=float, default=15.0, metavar="S",
                      help="wait this long for the API to be ready (default 15)")

    mq = replay.add_argument_group("MQTT target")
    mq.add_argument("--mqtt", action="store_true", help="publish to the broker instead of POSTing (needs xfmr bridge)")
    _broker_arguments(mq)

    mess = replay.add_argument_group("messy stream (shares of readings; off by default)")
    for name, text in (("missing", "dropped"), ("duplicate", "sent twice"), ("late", "held back --late-steps steps"),
                       ("out-of-order", "swapped with the unit's next reading"), ("corrupt", "one value made invalid"),
                       ("stale", "start of a frozen-sensor episode of --stale-steps readings")):
        mess.add_argument(f"--{name}", type=_share, default=0.0, metavar="SHARE", help=text)
    mess.add_argument("--late-steps", type=int, default=3, help="steps a late reading is held back (default 3)")
    mess.add_argument("--stale-steps", type=int, default=6, help="readings a frozen episode lasts (default 6)")
    mess.add_argument("--seed", type=int, default=0, help="seed of the faults (default 0)")

    replay.add_argument("--report", type=Path, default=None,
                        help="JSON report path (default: $XFMR_HOME/reports/replay-<time>.json)")
    replay.add_argument("--no-progress", action="store_true", help="no live progress line")
    replay.set_defaults(handler=run_replay_command)


def _broker_arguments(group: Any) -> None:
    group.add_argument("--broker-host", default="127.0.0.1", help="MQTT broker host (default 127.0.0.1)")
    group.add_argument("--broker-port", type=int, default=1883, help="MQTT broker port (default 1883)")
    group.add_argument("--topic-root", default="xfmr", help="first topic level (default xfmr)")
    group.add_argument("--qos", type=int, choices=[0, 1, 2], default=1, help="MQTT QoS (default 1)")


def _api_key(args: argparse.Namespace) -> str:
    if args.api_key_file is not None:
        if not args.api_key_file.is_file():
            raise FileNotFoundError(f"--api-key-file {args.api_key_file}: no such file")
        return args.api_key_file.read_text().strip()
    if args.api_key:
        return str(args.api_key)
    raise ValueError("the scoring API needs a key: pass --api-key-file FILE or --api-key KEY (python -m serving.keys new)")


def build_stream(args: argparse.Namespace) -> Any:
    """Turn the replay arguments into a StreamConfig."""
    from replay.config import MessConfig, Pacing, StreamConfig
    from replay.source import FleetSource, ReadingsFile

    if args.readings is not None:
        if args.data is not None:
            raise ValueError("give --data or --readings, not both")
        source: Any = ReadingsFile(args.readings)
    else:
        folder = args.data or load_settings().fleet_dir
        if not folder.is_dir():
            raise FileNotFoundError(f"fleet folder {folder}: no such folder (xfmr generate, or pass --data/--readings)")
        units = tuple(u.strip() for u in args.units.split(",") if u.strip()) if args.units else None
        source = FleetSource(folder=folder, start=args.start, end=args.end, days=args.days, step=args.step, units=units)
    pacing = Pacing(speed=None, rate=None) if args.unpaced else (
        Pacing(speed=None, rate=args.rate) if args.rate is not None else Pacing(speed=args.speed or 3600.0))
    mess = MessConfig(missing=args.missing, duplicate=args.duplicate, late=args.late, late_steps=args.late_steps,
                      out_of_order=args.out_of_order, corrupt=args.corrupt, stale=args.stale,
                      stale_steps=args.stale_steps, seed=args.seed)
    return StreamConfig(source, pacing=pacing, mess=mess, max_readings=args.max_readings, duration_s=args.duration)


def run_replay_command(args: argparse.Namespace) -> int:
    from replay.driver import ReplayAborted

    stream = build_stream(args)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report_path = args.report or load_settings().reports_dir / f"replay-{stamp}.json"
    progress = not args.no_progress
    try:
        if args.mqtt:
            from replay.config import MqttReplayConfig
            from replay.mqtt import run_mqtt_replay

            report = run_mqtt_replay(MqttReplayConfig(stream, host=args.broker_host, port=args.broker_port,
                                                      topic_root=args.topic_root, qos=args.qos, progress=progress,
                                                      report_path=report_path))
        else:
            from replay.config import HttpReplayConfig
            from replay.http import run_replay

            report = run_replay(HttpReplayConfig(stream, url=args.url.rstrip("/"), api_key=_api_key(args),
                                                 batch=args.batch, concurrency=args.concurrency,
                                                 explain=not args.no_explain, dedupe=not args.no_dedupe,
                                                 ready_timeout_s=args.ready_timeout,
                                                 progress=progress,
                                                 report_path=report_path))
    except ReplayAborted as exc:
        from cli.errors import CommandError

        raise CommandError(str(exc)) from None
    print("\n".join(report.lines()))
    print(f"report: {report_path}")
    lost = report.failed_readings + report.unanswered
    if lost:
        print(f"xfmr replay: {lost:,} readings got no answer (see the report)", file=sys.stderr)
        return 1
    return 0
