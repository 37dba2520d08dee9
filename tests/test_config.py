"""Configuration read from the environment."""

from pathlib import Path

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


def test_the_version_agents_report_is_the_projects():
    import tomllib

    import app

    with open(Path(__file__).resolve().parents[1] / "pyproject.toml", "rb") as handle:
        assert app.__version__ == tomllib.load(handle)["project"]["version"]
