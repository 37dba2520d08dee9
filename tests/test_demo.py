"""Demo data on a first run."""

import shutil
from collections import defaultdict
from datetime import date, time, timedelta
from pathlib import Path

from sqlalchemy import select

from app.auth.models import Role, User
from app.broadcast.models import BroadcastLog
from app.demo.cli import trial_times
from app.extensions import db
from app.org.models import BroadcastSession, Station, StationKind, Unit
from app.schedules.models import Airing, AiringStatus, Schedule
from app.schedules.recurrence import LOCAL_TZ
from app.scripts.models import Script, ScriptStatus
from tests.conftest import login

ROOT = Path(__file__).resolve().parents[1]


def test_demo_load_builds_binh_thuan_and_its_campaign_and_prints_accounts_once(app, runner, clock):
    shutil.copytree(ROOT / "scripts_vi", app.config["SCRIPTS_DIR"])
    shutil.copytree(ROOT / "schedules", app.config["SCHEDULES_DIR"])
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
    assert statuses.count(ScriptStatus.APPROVED) == 2

    # The 2021 scripts are valid from the day of loading, so the campaign can air them.
    today = date(2026, 11, 27)
    assert {s.valid_from for s in db.session.query(Script)} == {today}
    # The seed campaign: both approved scripts in each session of every station, 14 days.
    schedules = {s.source_key: s for s in db.session.query(Schedule)}
    assert set(schedules) == {
        "dot-6-tiem-chung/keu-goi-tiem-chung",
        "dot-6-tiem-chung/theo-doi-sau-tiem",
        "demo/phat-thu",
    }
    campaign = schedules["dot-6-tiem-chung/keu-goi-tiem-chung"]
    assert (campaign.start_date, campaign.end_date) == (today, today + timedelta(days=13))
    assert campaign.created_by.username == "nguoiduyet"
    days: dict[str, set[date]] = defaultdict(set)
    for airing in db.session.scalars(select(Airing).where(Airing.schedule_id == campaign.id)):
        days[airing.station.code].add(airing.sequenced_at.astimezone(LOCAL_TZ).date())
    for station in db.session.query(Station):
        aired_on = {today + timedelta(days=n) for n in range(14)}
        aired_on = {d for d in aired_on if str(d.isoweekday()) in station.sessions[0].weekdays}
        assert days[station.code] == aired_on, station.code
    # The first-day trial on the city's stations, minutes after the load (08:00 here).
    trial = schedules["demo/phat-thu"]
    assert trial_times(clock.now())[:2] == (time(8, 5), time(8, 15))
    assert {
        s.code for s in db.session.query(Station).join(Unit).filter(Unit.code.like("BT-PTH%"))
    } == {
        a.station.code
        for a in db.session.scalars(select(Airing).where(Airing.schedule_id == trial.id))
    }
    assert "Phát thử hôm nay trên các đài của Thành phố Phan Thiết: 08:05" in result.output
    # The runner airs the first trial spots with the simulate output and logs them.
    clock.advance(minutes=5)
    aired = runner.invoke(args=["scheduler", "run", "--once"])
    assert aired.exit_code == 0, aired.output
    assert db.session.query(BroadcastLog).filter_by(schedule_id=trial.id).count() == 4
    assert db.session.query(Airing).filter_by(status=AiringStatus.AIRED).count() >= 1

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
