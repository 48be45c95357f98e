"""`xfmr demo`: the whole loop on embedded defaults, with a summary at the end."""

from __future__ import annotations

import argparse
from typing import Any

from flows.settings import load_settings


def register(sub: Any) -> None:
    demo = sub.add_parser(
        "demo",
        help="run the whole loop: fleet -> champion -> API -> stream -> drift -> retrain -> gate -> hot swap",
        description="Everything runs on this machine under $XFMR_HOME/demo (wiped at the start). "
        "Ends with a summary table; stops the API it started, also on Ctrl-C.",
    )
    demo.add_argument("--assets", type=int, default=250, help="units in the fleet (default 250)")
    demo.add_argument("--years", type=float, default=4.0, help="years of history (default 4)")
    demo.add_argument("--scenario", default="sensor_offset", choices=["sensor_offset", "load_growth", "der_penetration"],
                      help="drift the stream switches to (default sensor_offset)")
    demo.add_argument("--stream-days", type=float, default=10.0, help="days of data streamed per phase (default 10)")
    demo.set_defaults(handler=run_demo_command)


def run_demo_command(args: argparse.Namespace) -> int:
    from demo.loop import DemoConfig, render_summary, run_demo
    from demo.stream import http_stream

    settings = load_settings()
    config = DemoConfig(assets=args.assets, years=args.years, scenario=args.scenario, stream_days=args.stream_days)
    summary = run_demo(config, settings.root, http_stream(config))
    render_summary(summary, load_settings())
    return 0 if summary.failed_requests == 0 else 1
