"""`xfmr train`, `xfmr promote` and `xfmr rollback`: train a challenger and move the champion by hand."""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path
from typing import Any

from flows.runtime import configure_mlflow, prepare
from flows.settings import load_settings


def register(sub: Any) -> None:
    train = sub.add_parser(
        "train",
        help="train a challenger, log it to MLflow and gate it against the champion",
        description="Run the training flow: ingest -> features -> split -> fit -> evaluate -> register -> gate. "
        "Default data: the fleet under $XFMR_HOME/data/fleet (generated if absent).",
    )
    src = train.add_mutually_exclusive_group()
    src.add_argument("--data", type=Path, default=None, metavar="DIR", help="folder of fleet tables")
    src.add_argument("--dataset-spec", type=Path, default=None, metavar="FILE", help="YAML spec of your own export")
    train.add_argument("--trigger", default="manual", choices=["manual", "schedule", "drift", "decay"],
                       help="why this run happens (recorded with the gate decision)")
    train.add_argument("--config", type=Path, default=None, metavar="FILE",
                       help="YAML/JSON training config overriding the defaults (sections: labels, split, model, evaluation, gate)")
    train.set_defaults(handler=run_train)

    promote = sub.add_parser("promote", help="make a registered version the champion (recorded)")
    promote.add_argument("--version", required=True, help="registered version number")
    promote.add_argument("--reason", required=True, help="why (kept in the promotion record)")
    promote.set_defaults(handler=run_promote)

    rollback = sub.add_parser("rollback", help="restore @previous_champion as the champion (recorded)")
    rollback.add_argument("--reason", default="manual rollback", help="why (kept in the promotion record)")
    rollback.set_defaults(handler=run_rollback)


def _load_config(path: Path | None) -> Any:
    from tasks.config import TrainingConfig

    if path is None:
        return TrainingConfig()
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    import yaml

    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of sections, got {type(data).__name__}")
    return TrainingConfig.model_validate(data)


def run_train(args: argparse.Namespace) -> int:
    settings = load_settings()
    prepare(settings)
    config = _load_config(args.config)
    configure_mlflow(settings)
    from flows.training import training_flow

    outcome = training_flow(
        data_dir=str(args.data) if args.data else None,
        dataset_spec=str(args.dataset_spec) if args.dataset_spec else None,
        trigger=args.trigger,
        config=config,
    )
    print_outcome(outcome)
    return 0


def print_outcome(outcome: Any) -> None:
    m = outcome.metrics
    print()
    print(f"model {outcome.model_name} version {outcome.version} (run {outcome.run_id})")
    print(f"  holdout PR-AUC {m['pr_auc']:.4f}  ROC-AUC {m['roc_auc']:.4f}  Brier {m['brier']:.5f}  "
          f"top-k recall {m['top_k_recall']:.3f}  precision {m['top_k_precision']:.3f}")
    for name, b in outcome.baselines.items():
        print(f"  {name:<14} PR-AUC {b['pr_auc']:.4f}  top-k recall {b['top_k_recall']:.3f}")
    print(f"  gate: {'PROMOTED' if outcome.decision.promote else 'rejected'} - {outcome.decision.reason}")
    print(f"  champion is now version {outcome.champion_version}")


def _client() -> Any:
    settings = load_settings()
    prepare(settings)
    configure_mlflow(settings)
    from mlflow.tracking import MlflowClient

    return settings, MlflowClient(tracking_uri=settings.tracking_uri)


def run_promote(args: argparse.Namespace) -> int:
    from tasks.registry import promote, registry_lock

    settings, client = _client()
    with registry_lock(settings.root / "locks" / "registry.lock"):
        record = promote(client, settings.model_name, args.version, args.reason, actor=getpass.getuser())
    print(f"{record.model_name}: champion v{record.champion_before} -> v{record.champion_after} ({record.reason})")
    return 0


def run_rollback(args: argparse.Namespace) -> int:
    from tasks.registry import registry_lock, rollback

    settings, client = _client()
    with registry_lock(settings.root / "locks" / "registry.lock"):
        record = rollback(client, settings.model_name, args.reason, actor=getpass.getuser())
    print(f"{record.model_name}: rolled back champion v{record.champion_before} -> v{record.champion_after}")
    return 0
