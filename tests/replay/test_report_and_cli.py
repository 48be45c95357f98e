"""Alarms and reject reasons in the tally, the saved JSON report, and the `xfmr replay` / `xfmr bridge` arguments."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from cli import replay as stream_command
from cli.main import build_parser
from replay.config import Pacing
from replay.source import FleetSource, ReadingsFile
from replay.tally import Tally, reject_reason


def answer(tally: Tally, as_of: str, band: str, **extra: object) -> None:
    item = {"transformer_id": "TX1", "as_of": as_of, "risk_band": band, "failure_probability": 0.3, **extra}
    tally.on_answer(item, "2", 0.01, 1.0)


def test_alarms_follow_band_changes_in_data_time_and_ignore_late_readings(tmp_path: Path) -> None:
    tally = Tally()
    tally.start(0.0)
    answer(tally, "2024-01-01T01:00:00Z", "low")
    answer(tally, "2024-01-01T02:00:00Z", "high")
    answer(tally, "2024-01-01T00:00:00Z", "critical", flags=["late"])  # late: must not move the unit's band
    answer(tally, "2024-01-01T03:00:00Z", "high")
    answer(tally, "2024-01-01T04:00:00Z", "medium", status="duplicate")
    tally.on_reject(reject_reason("readings[7].h2", "out of physical range: must be >= 0 ppm (got -5.0)"), 1.0)
    report = tally.report(transport="http", target="t", source="s", pacing="p", started_at="now", planned=5,
                          injected={"late": 1}, settings={})
    assert [(a.from_band, a.to_band, a.as_of) for a in report.alarms] == [("low", "high", "2024-01-01T02:00:00Z")]
    assert (report.scored, report.duplicates, report.flags) == (4, 1, {"late": 1})
    assert report.rejects_by_reason == {"h2: out of physical range": 1}
    saved = json.loads(report.save(tmp_path / "r" / "report.json").read_text())
    assert saved["alarms_raised"] == 1 and saved["versions"] == ["2"] and saved["rejects_by_reason"]


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def test_replay_arguments_build_the_stream(fleet: Path, tmp_path: Path) -> None:
    args = parse("replay", "--data", str(fleet), "--days", "2", "--step", "30min", "--rate", "250",
                 "--duplicate", "0.1", "--late", "0.05", "--seed", "4", "--max-readings", "99")
    stream = stream_command.build_stream(args)
    assert isinstance(stream.source, FleetSource) and stream.source.step.total_seconds() == 1800
    assert stream.pacing == Pacing(speed=None, rate=250.0) and stream.max_readings == 99
    assert (stream.mess.duplicate, stream.mess.late, stream.mess.seed) == (0.1, 0.05, 4)
    assert stream_command.build_stream(parse("replay", "--data", str(fleet))).pacing == Pacing(speed=3600.0)
    assert not stream_command.build_stream(parse("replay", "--data", str(fleet), "--unpaced")).pacing.paced
    (tmp_path / "r.csv").write_text("x\n1\n")
    assert isinstance(stream_command.build_stream(parse("replay", "--readings", str(tmp_path / "r.csv"))).source,
                      ReadingsFile)


def test_replay_arguments_fail_with_one_line_reasons(fleet: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse("replay", "--duplicate", "1.5")
    assert "must be a share between 0 and 1, got 1.5" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse("replay", "--speed", "10", "--rate", "5")
    with pytest.raises(ValueError, match="needs a key"):
        stream_command.run_replay_command(parse("replay", "--data", str(fleet), "--no-progress"))
    with pytest.raises(ValueError, match="--data or --readings, not both"):
        stream_command.build_stream(parse("replay", "--data", str(fleet), "--readings", str(fleet)))


def test_bridge_arguments_have_defaults() -> None:
    args = parse("bridge")
    assert (args.broker_host, args.broker_port, args.topic_root, args.qos, args.client_id) == (
        "127.0.0.1", 1883, "xfmr", 1, "xfmr-bridge")
