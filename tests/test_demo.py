"""Demo data on a first run."""

import shutil
from pathlib import Path

from app.auth.models import Role, User
from app.extensions import db
from app.org.models import BroadcastSession, Station, StationKind, Unit
from app.scripts.models import Script, ScriptStatus
from tests.conftest import login

ROOT = Path(__file__).resolve().parents[1]


def test_demo_load_builds_binh_thuan_and_prints_accounts_once(app, runner):
    shutil.copytree(ROOT / "scripts_vi", app.config["SCRIPTS_DIR"])
    result = runner.invoke(args=["demo", "load", "--if-empty"])
    assert result.exit_code == 0, result.output
    assert "nguoiduyet" in result.output and "Loa@BinhThuan-2" in result.output
    kinds = {s.kind for s in db.session.query(Station)}
    assert kinds == set(StationKind)
    assert db.session.query(Unit).filter_by(code="BT-PTH").one().parent.code == "BT"
    assert db.session.query(Station).filter_by(code="PTH-RADIO").one().name == (
        "Đài Truyền thanh thành phố Phan Thiết"
    )
    assert db.session.query(BroadcastSession).count() == 2 * db.session.query(Station).count()
    assert {u.role for u in db.session.query(User)} == set(Role)
    statuses = [s.status for s in db.session.query(Script)]
    assert statuses.count(ScriptStatus.SUBMITTED) == 2
    again = runner.invoke(args=["demo", "load", "--if-empty"])
    assert again.exit_code == 0 and again.output == ""
    refused = runner.invoke(args=["demo", "load"])
    assert refused.exit_code != 0


def test_demo_users_must_change_password_at_first_login(app, runner, client):
    runner.invoke(args=["demo", "load"])
    login(client, "bientap", "Loa@BinhThuan-3")
    assert client.get("/scripts").headers["Location"] == "/account/password"


def test_readme_lists_the_demo_accounts():
    from app.demo.data import USERS

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for username, _, _, _, password in USERS:
        assert username in readme and password in readme
