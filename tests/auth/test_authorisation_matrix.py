"""Role-by-endpoint authorisation matrix, checked on the server for pages and the API."""

from datetime import date, time

import pytest
from sqlalchemy import func, select

from app.auth.permissions import DENIED_MESSAGES
from app.auth.service import create_token
from app.broadcast.models import BroadcastLog
from app.extensions import db
from app.org.models import Unit
from app.org.service import add_session
from app.schedules import service as schedule_service
from app.schedules.models import Airing, CancelledOccurrence, Schedule
from app.schedules.recurrence import Recurrence
from app.scripts.models import Script, ScriptReview, ScriptVersion
from app.scripts.service import approve_script
from app.speech import service as speech_service
from app.speech.models import LexiconEntry, Render, SpokenOverride
from tests.factories import make_script, make_station, submit

ROLES = ["writer", "operator", "supervisor", "admin"]
EDITORS = {"writer", "supervisor"}
LEXICON_EDITORS = {"supervisor", "admin"}
SCHEDULERS = {"operator", "supervisor"}

# (method, path, roles allowed). {id} is a submitted script of the district, {draft} a draft
# script of the district, {render} the submitted script's finished render and {entry} a
# lexicon entry of the district.
SPEECH_WEB = [
    ("get", "/lexicon", set(ROLES)),
    ("post", "/lexicon", LEXICON_EDITORS),
    ("get", "/lexicon/{entry}/edit", LEXICON_EDITORS),
    ("post", "/lexicon/{entry}/edit", LEXICON_EDITORS),
    ("post", "/lexicon/{entry}/delete", LEXICON_EDITORS),
    ("post", "/lexicon/reading", LEXICON_EDITORS),
    ("post", "/scripts/{draft}/spoken", EDITORS),
    ("post", "/scripts/{draft}/renders", EDITORS),
    ("get", "/renders/{render}/status", set(ROLES)),
    ("get", "/renders/{render}/audio", set(ROLES)),
]

# {schedule} is an active schedule of the district, 05:45 daily on {station} from 28/11/2026.
SCHEDULE_WEB = [
    ("get", "/schedules/", set(ROLES)),
    ("get", "/schedules/new", SCHEDULERS),
    ("post", "/schedules/new", SCHEDULERS),
    ("get", "/schedules/{schedule}", set(ROLES)),
    ("get", "/schedules/{schedule}.ics", set(ROLES)),
    ("get", "/schedules/export.ics", set(ROLES)),
    ("post", "/schedules/{schedule}/cancel", SCHEDULERS),
    ("post", "/schedules/{schedule}/delete", SCHEDULERS),
]

# Operator pages (app/schedules/console.py), on the MATRIX-CITY station; {first_airing} is
# {schedule}'s first planned airing (05:30 on 28/11). Every write is filled in validly in the
# web test's form data ("now-…", "live-…", "reason"), so an allowed role must store its effect.
PLAYOUT_WEB = [
    ("get", "/playout/", set(ROLES)),
    ("get", "/playout/?station=MATRIX-CITY", set(ROLES)),
    ("get", "/playout/stations/MATRIX-CITY?date=2026-11-28", set(ROLES)),
    ("get", "/playout/stations/MATRIX-CITY/rundown?date=2026-11-28", set(ROLES)),
    ("get", "/playout/stations/MATRIX-CITY/week?start=2026-11-28", set(ROLES)),
    ("get", "/playout/stations/MATRIX-CITY/2026-11-28.m3u8", set(ROLES)),
    ("get", "/playout/log", set(ROLES)),
    ("get", "/playout/log/verify", set(ROLES)),
    ("post", "/playout/air-now?station=MATRIX-CITY", SCHEDULERS),
    ("post", "/playout/airings/{first_airing}/skip", SCHEDULERS),
    ("post", "/playout/airings/{first_airing}/cancel", SCHEDULERS),
    ("post", "/playout/live-read", SCHEDULERS),
]

# Report pages (app/reports/views.py): every role reads them, scoped to its subtree (writers to
# their own scripts' airings); all are GETs, exports (format=) and the chain check (verify=1)
# included.
REPORT_WEB = [
    ("get", "/reports/", set(ROLES)),
    ("get", "/reports/?period=week&date=2026-11-28&verify=1", set(ROLES)),
    ("get", "/reports/?period=month&date=2026-11-01&format=csv", set(ROLES)),
    ("get", "/reports/airings?period=month&date=2026-11-01&figure=pending", set(ROLES)),
    ("get", "/reports/airings?figure=missed&format=json", set(ROLES)),
    ("get", "/reports/campaign", set(ROLES)),
    ("get", "/reports/campaign?campaign=-&format=pdf", set(ROLES)),
    ("get", "/reports/logbook?station=MATRIX-CITY&date=2026-11-28", set(ROLES)),
    ("get", "/reports/logbook?station=MATRIX-CITY&date=2026-11-28&format=xlsx", set(ROLES)),
]

WEB = [
    ("get", "/scripts", set(ROLES)),
    ("get", "/scripts/{id}", set(ROLES)),
    ("get", "/scripts/{id}/diff", set(ROLES)),
    ("get", "/scripts/{id}/versions/1", set(ROLES)),
    ("get", "/scripts/new", EDITORS),
    ("get", "/scripts/{id}/edit", EDITORS),
    ("post", "/scripts/{id}/submit", EDITORS),
    ("get", "/review", {"supervisor"}),
    ("get", "/scripts/{id}/review", {"supervisor"}),
    ("post", "/scripts/{id}/approve", {"supervisor"}),
    ("post", "/scripts/{id}/reject", {"supervisor"}),
    ("post", "/scripts/{id}/archive", {"supervisor"}),
    ("get", "/audit/", {"supervisor", "admin"}),
    ("get", "/admin/units", {"admin"}),
    ("get", "/admin/units/new", {"admin"}),
    ("get", "/admin/stations", {"admin"}),
    ("get", "/admin/stations/new", {"admin"}),
    ("get", "/admin/users", {"admin"}),
    ("get", "/admin/users/new", {"admin"}),
    ("get", "/account/tokens", set(ROLES)),
    ("get", "/account/password", set(ROLES)),
    *SPEECH_WEB,
    *SCHEDULE_WEB,
    *PLAYOUT_WEB,
    *REPORT_WEB,
]

SPEECH_API = [
    ("post", "/api/v1/speech/normalize", set(ROLES)),
    ("post", "/api/v1/scripts/{draft}/renders", EDITORS),
    ("get", "/api/v1/renders/{render}", set(ROLES)),
    ("get", "/api/v1/renders/{render}/audio", set(ROLES)),
]

API = [
    ("get", "/api/v1/scripts", set(ROLES)),
    ("get", "/api/v1/scripts/{id}", set(ROLES)),
    ("post", "/api/v1/scripts", EDITORS),
    ("patch", "/api/v1/scripts/{id}", EDITORS),
    ("post", "/api/v1/scripts/{id}/submit", EDITORS),
    ("post", "/api/v1/scripts/{id}/approve", {"supervisor"}),
    ("post", "/api/v1/scripts/{id}/reject", {"supervisor"}),
    *SPEECH_API,
    # Reports: every role, each seeing its own scope (writers their own scripts' airings).
    ("get", "/api/v1/reports/airtime?period=month&date=2026-11-01", set(ROLES)),
    ("get", "/api/v1/reports/campaign?campaign=-", set(ROLES)),
]

# Station, schedule, playout and log API. Stations are named by code: MATRIX-CITY is {station};
# {airing} is {schedule}'s first planned airing. Every write sends a valid body
# (PLAYOUT_BODIES), so an allowed role passes every check and must leave its effect stored.
PLAYOUT_API = [
    ("get", "/api/v1/stations", set(ROLES)),
    ("get", "/api/v1/stations/MATRIX-CITY", set(ROLES)),
    ("get", "/api/v1/stations/MATRIX-CITY/rundown?date=2026-11-28", set(ROLES)),
    ("get", "/api/v1/schedules", set(ROLES)),
    ("get", "/api/v1/schedules/{schedule}", set(ROLES)),
    ("post", "/api/v1/schedules", SCHEDULERS),
    ("delete", "/api/v1/schedules/{schedule}", SCHEDULERS),
    ("post", "/api/v1/schedules/{schedule}/cancellations", SCHEDULERS),
    ("post", "/api/v1/stations/MATRIX-CITY/air-now", SCHEDULERS),
    ("post", "/api/v1/airings/{airing}/skip", SCHEDULERS),
    ("post", "/api/v1/stations/MATRIX-CITY/live-reads", SCHEDULERS),
    ("get", "/api/v1/logs", set(ROLES)),
    ("get", "/api/v1/logs/verify", set(ROLES)),
]
PLAYOUT_BODIES = {
    "/api/v1/schedules": lambda ids: {
        "script": ids["approved"],
        "stations": ["MATRIX-CITY"],
        "recurrence": {
            "kind": "times",
            "times": "05:50",
            "start_date": "2026-11-28",
            "end_date": "2026-11-30",
        },
        "confirm_warnings": True,
    },
    "/api/v1/schedules/{schedule}/cancellations": lambda ids: {
        "occurs_at": "2026-11-29T05:45:00+07:00",
        "reason": "Mất điện cả phường.",
    },
    "/api/v1/stations/MATRIX-CITY/air-now": lambda ids: {"script": ids["approved"]},
    "/api/v1/airings/{airing}/skip": lambda ids: {"reason": "Loa hỏng."},
    "/api/v1/stations/MATRIX-CITY/live-reads": lambda ids: {
        "started_at": "2026-11-27T07:30:00+07:00",
        "duration_s": 60,
        "note": "Đọc thông báo cắt điện.",
    },
}

# Speech writes whose effect an allowed role must see stored: a 302 back to the page with an
# error flashed would otherwise pass for success.
SPEECH_WRITES = {
    (method, path) for method, path, _ in SPEECH_WEB + SPEECH_API if method == "post"
} - {("post", "/api/v1/speech/normalize")}
# Schedule writes, likewise: an allowed role must leave a schedule, cancellation or deletion.
SCHEDULE_WRITES = {(method, path) for method, path, _ in SCHEDULE_WEB if method == "post"}
PLAYOUT_WEB_WRITES = {(method, path) for method, path, _ in PLAYOUT_WEB if method == "post"}

# Known wrong answers, kept visible until fixed (strict: an unexpected pass fails).


@pytest.fixture
def submitted(users, org):
    """A submitted script of the district with its finished render, by a writer nobody
    logs in as here."""
    script = make_script(users["writer2"], org.district)
    submit(users["writer2"], script)
    assert speech_service.latest_done_render(script) is not None
    return script


@pytest.fixture
def ids(users, org, submitted):
    """The ids the matrix's paths are filled with."""
    draft = make_script(users["writer2"], org.district, title="Thông báo lịch cắt điện")
    entry = speech_service.create_lexicon_entry(
        users["supervisor2"],
        speech_service.LexiconInput("TTYT", "trung tâm y tế", unit=org.district),
    )
    approved = make_script(
        users["writer2"], org.district, title="Lịch tiêm chủng", valid_until=date(2026, 12, 31)
    )
    submit(users["writer2"], approved)
    approve_script(users["supervisor"], approved)
    station = make_station(org.district, "MATRIX-CITY")
    add_session(None, station, "Buổi sáng", time(5, 30), time(6, 15), 15, "1234567")
    rule = Recurrence(
        kind="times",
        times=(time(5, 45),),
        start_date=date(2026, 11, 28),
        end_date=date(2026, 12, 4),
    )
    schedule = schedule_service.create_schedule(
        users["supervisor2"],
        schedule_service.ScheduleInput(script=approved, recurrence=rule, stations=[station]),
    )
    return {
        "id": submitted.id,
        "draft": draft.id,
        "render": speech_service.latest_done_render(submitted).id,
        "entry": entry.id,
        "approved": approved.id,
        "station": station.id,
        "schedule": schedule.id,
        "first_airing": db.session.scalars(
            select(Airing.id).where(Airing.schedule_id == schedule.id).order_by(Airing.sequenced_at)
        ).first(),
    }


# A complete regional reading form: only the thousand is chosen, the rest inherits.
READING = {"thousand": "ngàn", "zero_tens": "", "four_after_tens": "", "code_policy": ""}


def _count(model) -> int:
    """Rows of a model."""
    return db.session.scalar(select(func.count()).select_from(model))


def _stored(org, ids) -> dict:
    """What a refused request must leave untouched, read fresh from the database."""
    db.session.expire_all()
    entry = db.session.get(LexiconEntry, ids["entry"])
    scripts = db.session.scalars(select(Script).order_by(Script.id))
    return {
        "lexicon": _count(LexiconEntry),
        "entry": (entry.term, entry.spoken) if entry else None,
        "reading": dict(db.session.get(Unit, org.district.id).reading_options or {}),
        "renders": _count(Render),
        "overrides": _count(SpokenOverride),
        "scripts": [(s.id, s.status, s.revision) for s in scripts],
        "versions": _count(ScriptVersion),
        "reviews": _count(ScriptReview),
        "schedules": [
            (s.id, s.status, s.revision)
            for s in db.session.scalars(select(Schedule).order_by(Schedule.id))
        ],
        "airings": _count(Airing),
        "cancelled": _count(CancelledOccurrence),
        "log": _count(BroadcastLog),
    }


def _cases(table):
    cases = []
    for method, path, allowed in table:
        for role in ROLES:
            cases.append(
                pytest.param(method, path, role, role in allowed, id=f"{role}-{method}-{path}")
            )
    return cases


@pytest.mark.parametrize(("method", "path", "role", "allowed"), _cases(WEB))
def test_web_endpoint_authorisation(login_as, org, submitted, ids, method, path, role, allowed):
    client = login_as(role)
    data = {
        "reason": "Lý do đủ dài.",
        "version_id": submitted.current_version_id,
        # Lexicon entry and regional reading forms.
        "term": "UBND",
        "spoken": "ủy ban nhân dân",
        "note": "",
        "unit_id": org.district.id,
        **READING,
        # Render form.
        "station_id": "0",
        "engine": "espeak",
        "voice": "vi",
        "speed": "100",
        "repeats": "1",
        # New schedule form: 05:55 on the schedule's station for three days (not 05:45, which
        # the existing schedule airs: the same script twice at a time is a warning).
        "script": ids["approved"],
        "stations": [ids["station"]],
        "kind": "times",
        "times": "05:55",
        "weekdays": [str(d) for d in range(1, 8)],
        "start_date": "2026-11-28",
        "end_date": "2026-11-30",
        "gap_seconds": "5",
        # Cancel and delete forms.
        "occurs_at": "2026-11-29T05:45",
        "station": ids["station"],
        "confirm": "y",
        # Operator console: "phát ngay" and live-read forms (prefixed fields).
        "now-script_id": ids["approved"],
        "now-stations": [ids["station"]],
        "now-confirm": "y",
        "live-station_id": ids["station"],
        "live-start": "07:30",
        "live-minutes": "1",
        "live-note": "Đọc thông báo cắt điện.",
    }
    before = _stored(org, ids)
    with getattr(client, method)(path.format(**ids), data=data) as response:
        # The audio row answers a WAV file; only pages need to be read as text.
        status, page = response.status_code, response.get_data().decode(errors="replace")
    after = _stored(org, ids)
    if allowed:
        assert status in {200, 302}, page[:500]
        if (method, path) in SPEECH_WRITES | SCHEDULE_WRITES | PLAYOUT_WEB_WRITES:
            assert after != before, "allowed, yet nothing was stored"
    else:
        assert after == before
        assert status == 403
        assert any(message in page for message in DENIED_MESSAGES.values())


@pytest.mark.parametrize(("method", "path", "role", "allowed"), _cases(API))
def test_api_endpoint_authorisation(
    client, users, org, submitted, ids, method, path, role, allowed
):
    _, token = create_token(users[role], "matrix")
    # Each call gets only the fields it reads: the API refuses unknown ones (400).
    fields = {
        "title": "Thông báo",
        "body": "Nội dung thông báo.",
        "revision": submitted.revision,
        "reason": "Lý do đủ dài.",
        "text": "Họp lúc 7h30 tại UBND phường.",
    }
    takes = {
        ("post", "/api/v1/scripts"): {"title", "body"},
        ("patch", "/api/v1/scripts/{id}"): {"title", "body", "revision"},
        ("post", "/api/v1/scripts/{id}/reject"): {"reason"},
        ("post", "/api/v1/speech/normalize"): {"text"},
    }
    payload = {k: v for k, v in fields.items() if k in takes.get((method, path), set())}
    before = _stored(org, ids)
    with getattr(client, method)(
        path.format(**ids), json=payload, headers={"Authorization": f"Bearer {token}"}
    ) as response:
        status, body = response.status_code, response.get_json(silent=True)
    after = _stored(org, ids)
    if allowed:
        # Past the permission check; a workflow rule may still answer 409 (already submitted).
        assert status in {200, 201, 202, 409}, body
        if (method, path) in SPEECH_WRITES:
            assert after != before, "allowed, yet nothing was stored"
    else:
        assert after == before
        assert status == 403
        assert body["error"] == "forbidden"
        assert body["message"] in DENIED_MESSAGES.values()


@pytest.mark.parametrize("role", ROLES)
def test_outside_unit_is_not_found_for_every_role(app, users, org, role):
    from tests.factories import make_user

    stranger = make_user(org.other_district, role=users[role].role, username=f"xa-{role}")
    script = make_script(users["writer"], org.district)
    _, token = create_token(stranger, "x")
    response = app.test_client().get(
        f"/api/v1/scripts/{script.id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 404


@pytest.mark.parametrize("path", ["/admin/units/{unit}", "/admin/users/{user}"])
def test_admin_of_a_branch_cannot_manage_another_branch(app, users, org, path):
    from app.auth.models import Role
    from tests.conftest import login
    from tests.factories import make_user

    make_user(org.other_district, Role.ADMIN, "admin-lagi")
    client = login(app.test_client(), "admin-lagi")
    response = client.get(path.format(unit=org.district.id, user=users["writer"].id))
    assert response.status_code == 404


def test_supervisor_of_another_district_cannot_touch_the_districts_speech_data(login_as, org, ids):
    client = login_as("outside_supervisor")
    before = _stored(org, ids)

    reading = client.post("/lexicon/reading", data={"unit_id": org.district.id, **READING})
    # The unit is not among the form's choices: the form is refused, back to the lexicon.
    assert reading.status_code == 302
    added = client.post(
        "/lexicon",
        data={"term": "UBND", "spoken": "ủy ban nhân dân", "unit_id": org.district.id},
    )
    assert added.status_code == 422
    entry = f"/lexicon/{ids['entry']}"
    assert client.get(f"{entry}/edit").status_code == 404
    edit = {"term": "TTYT", "spoken": "trạm y tế", "unit_id": org.district.id}
    assert client.post(f"{entry}/edit", data=edit).status_code == 404
    assert client.post(f"{entry}/delete").status_code == 404
    for suffix in ("status", "audio"):
        with client.get(f"/renders/{ids['render']}/{suffix}") as response:
            assert response.status_code == 404

    assert _stored(org, ids) == before
    # Their own district is theirs to set: the refusal above was about scope, not the form.
    own = client.post("/lexicon/reading", data={"unit_id": org.other_district.id, **READING})
    assert own.status_code == 302
    assert db.session.get(Unit, org.other_district.id).reading_options == {"thousand": "ngàn"}


@pytest.mark.parametrize(("role", "status"), [("writer", 422), ("operator", 403)])
def test_rendering_a_submitted_script_is_a_rule_refusal_not_a_permission_one(
    client, users, org, submitted, ids, role, status
):
    _, token = create_token(users[role], "matrix")
    before = _stored(org, ids)
    response = client.post(
        f"/api/v1/scripts/{submitted.id}/renders",
        json={},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"] == {422: "validation_failed", 403: "forbidden"}[status]
    assert _stored(org, ids) == before


@pytest.mark.parametrize(("method", "path", "role", "allowed"), _cases(PLAYOUT_API))
def test_playout_api_endpoint_authorisation(client, users, org, ids, method, path, role, allowed):
    _, token = create_token(users[role], "matrix")
    airing = db.session.scalars(
        select(Airing).where(Airing.schedule_id == ids["schedule"]).order_by(Airing.sequenced_at)
    ).first()
    body = PLAYOUT_BODIES.get(path, lambda ids: None)(ids)
    before = (_stored(org, ids), _count(BroadcastLog))
    with getattr(client, method)(
        path.format(**ids, airing=airing.id),
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        status, data = response.status_code, response.get_json(silent=True)
    after = (_stored(org, ids), _count(BroadcastLog))
    if allowed:
        assert status in {200, 201}, data
        if method != "get":
            assert after != before, "allowed, yet nothing was stored"
    else:
        assert after == before
        assert status == 403
        assert data["error"] == "forbidden"
        assert data["message"] in DENIED_MESSAGES.values()
