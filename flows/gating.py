"""Register the challenger, re-score the champion on the same holdout, decide, move aliases and record it."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlflow.tracking import MlflowClient

from flows.settings import PipelineSettings
from tasks.config import GateSettings
from tasks.digest import frame_digest
from tasks.evaluate import Evaluation, score_metrics
from tasks.gate import GateDecision, decide
from tasks.registry import (
    CHALLENGER,
    CHAMPION,
    PromotionRecord,
    alias_version,
    load_version,
    move_champion,
    now_utc,
    register_version,
    registry_lock,
    retry_registry,
    write_record,
)
from tasks.split import Split
from tasks.tracking import LoggedRun
from tasks.train import FitResult


@dataclass(frozen=True)
class GateOutcome:
    """What a training run produced and what the gate made of it."""

    model_name: str
    version: str
    run_id: str
    decision: GateDecision
    champion_version: str | None
    record_artifact: str
    metrics: dict[str, float]
    baselines: dict[str, dict[str, float]]


@dataclass(frozen=True)
class ChampionScore:
    """The current champion re-scored on the challenger's holdout (metrics None when it could not be)."""

    version: str | None = None  # None: there is no champion
    metrics: dict[str, float] | None = None
    note: str | None = None  # why it could not be re-scored


def _champion_metrics(client: MlflowClient, name: str, split: Split, top_k_pct: float, exclude: str) -> ChampionScore:
    """Score the current champion on the challenger's holdout."""
    champion = alias_version(client, name, CHAMPION)
    if champion is None or str(champion.version) == exclude:
        return ChampionScore()
    version = str(champion.version)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            model = load_version(client, name, version, Path(tmp))
            prob = model.predict_proba(split.holdout)
        except (ValueError, OSError) as exc:
            return ChampionScore(version, None, f"champion v{version} could not be re-scored: {exc}")
    return ChampionScore(version, score_metrics(split.holdout, prob, top_k_pct, probabilistic=True))


def register_and_gate(
    *,
    logged: LoggedRun,
    split: Split,
    fit: FitResult,
    evaluation: Evaluation,
    gate_settings: GateSettings,
    top_k_pct: float,
    trigger: str,
    trigger_detail: str | None,
    settings: PipelineSettings,
) -> GateOutcome:
    """Do the registry half of a run under the registry lock; on any failure remove the new version."""
    client = MlflowClient(tracking_uri=settings.tracking_uri)
    name = settings.model_name
    holdout_cols = ["transformer_id", "as_of", "label", *fit.model.feature_columns]
    holdout_digest = frame_digest(split.holdout[holdout_cols])
    tags = {
        **{k: str(v) for k, v in logged.lineage.items()},
        "holdout_digest": holdout_digest,
        "feature_list": ",".join(fit.model.feature_columns)[:4900],
        "feature_count": str(len(fit.model.feature_columns)),
        "gate.decision": "pending",
    }
    with registry_lock(settings.root / "locks" / "registry.lock"):
        version = str(register_version(client, name, logged.model_uri, logged.run_id, tags).version)
        try:
            champion = _champion_metrics(client, name, split, top_k_pct, exclude=version)
            champion_version, note = champion.version, champion.note
            baselines = {k: v for k, v in evaluation.metrics.items() if k != "model"}
            decision = decide(evaluation.model, champion.metrics, baselines, gate_settings)
            retry_registry(lambda: client.set_registered_model_alias(name, CHALLENGER, version))
            before = champion_version
            if decision.promote:
                before = move_champion(client, name, version)
            after_mv = alias_version(client, name, CHAMPION)
            after = str(after_mv.version) if after_mv is not None else None
            record = PromotionRecord(
                action="gate", model_name=name, version=version, promoted=decision.promote,
                reason=decision.reason + (f"; {note}" if note else ""), trigger=trigger,
                champion_before=before, champion_after=after,
                details={
                    **decision.as_record(),
                    "trigger_detail": trigger_detail,
                    "holdout_digest": holdout_digest,
                    "data_digest": logged.lineage.get("data_digest"),
                    "run_id": logged.run_id,
                    "baselines": baselines,
                },
                recorded_at=now_utc(),
            )
            artifact = write_record(client, record, logged.run_id)
            if champion_version and champion_version != version:
                retry_registry(lambda: client.set_model_version_tag(
                    name, champion_version, f"gate.compared_with_v{version}",
                    "kept" if not decision.promote else "replaced",
                ))
        except BaseException:
            # A crashed gate must leave the registry as it was: drop the half-registered version.
            retry_registry(lambda: client.delete_model_version(name, version))
            raise
    return GateOutcome(
        model_name=name, version=version, run_id=logged.run_id, decision=decision,
        champion_version=after, record_artifact=artifact,
        metrics=evaluation.model, baselines=baselines,
    )
