"""The MQTT bridge's entry point: options from the command line, the broker login from the environment."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from serving.bridge import add_bridge_arguments, options_from
from serving.mqtt_bridge import BridgeOptions


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_bridge_arguments(parser)
    return parser.parse_args(list(argv))


def test_the_login_comes_from_the_environment_and_stays_out_of_the_repr() -> None:
    options = options_from(parse("--topic-root", "site7", "--heartbeat", "/tmp/alive"),
                           {"XFMR_MQTT_USERNAME": "bridge", "XFMR_MQTT_PASSWORD": "s3cret-pw"})
    assert (options.username, options.password, options.topic_root) == ("bridge", "s3cret-pw", "site7")
    assert options.heartbeat_path == Path("/tmp/alive") and options.ca_file is None
    assert "s3cret-pw" not in repr(options)


def test_the_password_can_come_from_a_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "mqtt_password"
    secret.write_text("from-a-file\n")
    options = options_from(parse(), {"XFMR_MQTT_USERNAME": "bridge", "XFMR_MQTT_PASSWORD_FILE": str(secret)})
    assert options.password == "from-a-file"
    # An empty secret (no password configured) means an anonymous connection, not an empty password.
    secret.write_text("")
    assert options_from(parse(), {"XFMR_MQTT_PASSWORD_FILE": str(secret)}).password is None


def test_a_missing_password_file_is_named() -> None:
    with pytest.raises(FileNotFoundError, match="XFMR_MQTT_PASSWORD_FILE /nowhere/pw"):
        options_from(parse(), {"XFMR_MQTT_PASSWORD_FILE": "/nowhere/pw"})


def test_a_password_without_a_username_is_refused() -> None:
    with pytest.raises(ValueError, match="XFMR_MQTT_USERNAME"):
        options_from(parse(), {"XFMR_MQTT_PASSWORD": "pw"})


def test_a_missing_ca_bundle_is_named_before_connecting(tmp_path: Path) -> None:
    from serving.mqtt_bridge import MqttBridge
    from tests.serving.conftest import make_settings

    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'mlflow.db'}", "1")
    with pytest.raises(FileNotFoundError, match="XFMR_MQTT_CA_FILE"):
        MqttBridge(settings, "127.0.0.1", 8883, BridgeOptions(ca_file=str(tmp_path / "missing-ca.pem")))
