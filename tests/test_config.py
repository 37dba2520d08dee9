"""Configuration read from the environment."""

import pytest

from app.config import build_config


def test_playout_settings_come_from_json_in_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("PLAYOUT_SETTINGS", '{"folder": "/srv/playout"}')
    monkeypatch.setenv("PLAYOUT_GRACE_S", "120")
    config = build_config(tmp_path)
    assert config["PLAYOUT_SETTINGS"] == {"folder": "/srv/playout"}
    assert config["PLAYOUT_GRACE_S"] == 120.0
    monkeypatch.setenv("PLAYOUT_SETTINGS", "[1")
    with pytest.raises(RuntimeError, match="PLAYOUT_SETTINGS is not valid JSON"):
        build_config(tmp_path)
