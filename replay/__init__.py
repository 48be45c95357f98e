"""Streaming SCADA replay: fleet or utility readings sent in time order to the scoring API (HTTP) or a broker (MQTT)."""
