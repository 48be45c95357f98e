"""`xfmr serve` and `xfmr bridge`: the scoring service's two front doors, with the same options and code as
`python -m serving` and `python -m serving.bridge` (what the serving container runs)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    from serving.entry import add_serve_arguments
    from serving.bridge import add_bridge_arguments

    serve = sub.add_parser(
        "serve",
        help="run the scoring API (FastAPI) serving the registered @champion",
        description="Serve POST /v1/score, /v1/model, /health/live, /health/ready and /metrics. Settings come from "
        "the environment (see .env.example): XFMR_API_KEYS, MLFLOW_TRACKING_URI, XFMR_POLL_INTERVAL_S, ... "
        "The same as `python -m serving`.",
    )
    add_serve_arguments(serve)
    serve.set_defaults(handler=run_serve)

    bridge = sub.add_parser(
        "bridge",
        help="score readings from an MQTT broker with the API's model and feature code; publish results",
        description="Subscribe to <root>/readings/<substation>/<transformer_id>, score with the @champion (hot-swapped "
        "like the API), publish to <root>/results/..., write the same prediction log. Serving settings come from the "
        "environment (XFMR_API_KEYS, MLFLOW_TRACKING_URI, XFMR_MODEL_NAME, ...). Stop with Ctrl-C or SIGTERM. "
        "The same as `python -m serving.bridge`.",
    )
    add_bridge_arguments(bridge)
    bridge.set_defaults(handler=run_bridge)


def run_serve(args: argparse.Namespace) -> int:
    from serving.entry import serve_main

    return serve_main(args)


def run_bridge(args: argparse.Namespace) -> int:
    from serving.bridge import bridge_main

    return bridge_main(args)
