"""GET /api/v1/agent/plan: the station's airings of the next days with what the agent needs to
air them, under a strong ETag that changes exactly when the plan does."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, time, timedelta

import pytest
from flask import current_app
from sqlalchemy import select, update

from app.agents import service
from app.extensions import db
from app.org.models import Station
from app.playout import manual as playout
from app.playout import runner
from app.schedules import service as schedules
from app.schedules.models import Airing, AiringStatus
from app.scripts.models import Script
from app.speech.pipeline import sha256_file
from tests.agents.conftest import approved_with_own_audio, schedule_on
from tests.api.conftest import assert_error


def utc(*args) -> str:
    return datetime(*args, tzinfo=UTC).isoformat()


def plan(caller, query: str = "", **headers):
    return caller.get(f"/api/v1/agent/plan{query}", headers=headers)


def etag_of(response) -> str:
    return response.headers["ETag"]


def test_plan_lists_the_stations_airings_with_what_the_agent_needs(desk, enrolled):
    agent = enrolled(desk.commune, "Máy xã Phú Thủy")
    response = plan(agent, "?days=2")
    assert response.status_code == 200
    body = response.get_json()
    render = desk.script.approved_render
    path = current_app.config["AUDIO_DIR"] / render.audio_path
    audio = {
        "sha256": render.audio_sha256,
        "size": path.stat().st_size,
        "format": "wav",
        "duration_s": render.duration_s,
        "spoken_sha256": render.spoken_sha256,
    }
    assert audio["sha256"] == sha256_file(path)
    assert body["station"] == {
        "id": desk.commune.id,
        "code": "PT-PHUTHUY",
        "name": "Đài Phú Thủy",
        "unit": "C",
        "unit_id": desk.commune.unit_id,
        "kind": "commune_loudspeaker",
        "active": True,
    }
    assert body["agent"] == {"id": agent.agent.id, "name": "Máy xã Phú Thủy"}
    assert body["playout"] == {
        "mode": "central",
        "handover": None,
        "misfire_policy": "late",
        "grace_s": 300.0,
        "interrupt_policy": "requeue",
        "output": {"name": "simulate", "settings": {}},
    }
    # From today's local midnight (27/11) to the midnight after now + 2 days (30/11).
    assert (body["days"], body["from"], body["until"]) == (
        2,
        utc(2026, 11, 26, 17),
        utc(2026, 11, 29, 17),
    )
    assert [i["planned_at"] for i in body["items"]] == [
        utc(2026, 11, 27, 22, 45),
        utc(2026, 11, 28, 10, 15),
        utc(2026, 11, 28, 22, 45),
        utc(2026, 11, 29, 10, 15),
    ]
    first = body["items"][0]
    airing = db.session.get(Airing, first["id"])
    assert airing.station_id == desk.commune.id
    assert first == {
        "id": airing.id,
        "airing_key": airing.airing_key,
        "schedule": desk.schedule.id,
        "status": "planned",
        "planned_at": utc(2026, 11, 27, 22, 45),
        # Sequenced from the start of its session (05:30).
        "start_at": utc(2026, 11, 27, 22, 30),
        "duration_s": render.duration_s,
        "priority": "priority",
        "session": "Buổi sáng",
        "script": {"id": desk.script.id, "title": "Kêu gọi tiêm chủng"},
        "version": {"id": desk.script.approved_version_id, "number": 1},
        "render": render.id,
        "audio": audio,
        "note": "",
        "operator": None,
        "requeued_from": None,
    }
    assert body["audio"] == [audio]


def test_plan_covers_seven_days_by_default_and_at_most_fourteen(desk, enrolled):
    agent = enrolled(desk.commune)
    week = plan(agent).get_json()
    assert (week["days"], week["until"]) == (7, utc(2026, 12, 4, 17))
    assert len(week["items"]) == 14  # 05:45 and 17:15 from 28/11 to 4/12
    assert plan(agent, "?days=14").get_json()["until"] == utc(2026, 12, 11, 17)
    assert [i["planned_at"] for i in plan(agent, "?days=1").get_json()["items"]] == [
        utc(2026, 11, 27, 22, 45),
        utc(2026, 11, 28, 10, 15),
    ]


@pytest.mark.parametrize(
    ("query", "status", "code", "field"),
    [
        ("?days=0", 422, "validation_failed", "days"),
        ("?days=15", 422, "validation_failed", "days"),
        ("?days=-1", 422, "validation_failed", "days"),
        ("?days=abc", 422, "validation_failed", "days"),
        ("?days=1.5", 422, "validation_failed", "days"),
        ("?days=99999999999999999999999", 422, "validation_failed", "days"),
        ("?ngay=7", 400, "unknown_fields", "ngay"),
        ("?days=7&station=PT-CITY", 400, "unknown_fields", "station"),
    ],
)
def test_bad_plan_parameters_are_refused(desk, enrolled, query, status, code, field):
    assert_error(plan(enrolled(desk.commune), query), status, code, field)


def test_plan_lists_only_the_agents_own_station(desk, enrolled):
    commune = {i["id"] for i in plan(enrolled(desk.commune)).get_json()["items"]}
    city = {i["id"] for i in plan(enrolled(desk.city)).get_json()["items"]}
    assert len(commune) == len(city) == 14 and not commune & city
    assert {db.session.get(Airing, i).station_id for i in city} == {desk.city.id}
    foreign = plan(enrolled(desk.foreign)).get_json()
    assert (foreign["items"], foreign["audio"]) == ([], [])


def test_etag_is_strong_and_the_sha256_of_the_answer(desk, enrolled):
    response = plan(enrolled(desk.commune))
    tag = etag_of(response)
    assert not tag.startswith("W/")
    assert tag == f'"{hashlib.sha256(response.get_data()).hexdigest()}"'
    assert response.headers["Cache-Control"] == "private, no-cache"


def test_unchanged_plan_answers_304(desk, enrolled, clock):
    agent = enrolled(desk.commune)
    tag = etag_of(plan(agent))
    for header in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        again = plan(agent, **{"If-None-Match": header})
        assert again.status_code == 304, header
        assert again.get_data() == b""
        assert etag_of(again) == tag
    assert plan(agent, **{"If-None-Match": '"other"'}).status_code == 200
    # Time passing changes nothing within the day: the answer holds no server time.
    clock.advance(hours=10)
    assert plan(agent, **{"If-None-Match": tag}).status_code == 304
    assert plan(agent, "?days=6", **{"If-None-Match": tag}).status_code == 200


def test_the_window_moves_on_at_local_midnight(desk, enrolled, clock):
    agent = enrolled(desk.commune)
    tag = etag_of(plan(agent))
    clock.current = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)  # 00:00 on 28/11 in Vietnam
    moved = plan(agent, **{"If-None-Match": tag})
    assert moved.status_code == 200
    assert moved.get_json()["from"] == utc(2026, 11, 27, 17)


def test_a_cancelled_occurrence_changes_the_plan(desk, enrolled, users):
    agent = enrolled(desk.commune)
    before = plan(agent)
    occurs = datetime(2026, 11, 28, 10, 15, tzinfo=UTC)
    schedules.cancel_occurrence(users["operator"], desk.schedule, desk.commune, occurs, "Họp dân")
    after = plan(agent, **{"If-None-Match": etag_of(before)})
    assert after.status_code == 200 and etag_of(after) != etag_of(before)
    statuses = {i["planned_at"]: i["status"] for i in after.get_json()["items"]}
    assert statuses[occurs.isoformat()] == "cancelled"
    assert list(statuses.values()).count("planned") == 13
    # The other station's plan did not change.
    city = enrolled(desk.city)
    tag = etag_of(plan(city))
    assert plan(city, **{"If-None-Match": tag}).status_code == 304


def test_a_new_schedule_changes_the_plan_and_its_files(desk, enrolled, users, org):
    agent = enrolled(desk.commune)
    before = plan(agent)
    other = approved_with_own_audio(users, org.district, "Phòng chống bão", 880)
    schedule_on(users, other, [desk.commune], time(17, 30))
    after = plan(agent, **{"If-None-Match": etag_of(before)})
    assert after.status_code == 200 and etag_of(after) != etag_of(before)
    body = after.get_json()
    assert len(body["items"]) == 21
    assert len(body["audio"]) == 2
    assert {a["sha256"] for a in body["audio"]} == {
        desk.script.approved_render.audio_sha256,
        other.approved_render.audio_sha256,
    }
    assert body["audio"] == sorted(body["audio"], key=lambda a: a["sha256"])


def test_a_deleted_schedule_empties_the_plan(desk, enrolled, users):
    agent = enrolled(desk.commune)
    schedules.delete_schedule(users["operator"], desk.schedule)
    body = plan(agent).get_json()
    assert (body["items"], body["audio"]) == ([], [])


def test_air_now_appears_as_an_emergency_item(desk, enrolled, users):
    agent = enrolled(desk.commune)
    playout.air_now(users["operator"], desk.script, [desk.commune], "Bão số 9")
    items = plan(agent).get_json()["items"]
    assert items[0]["priority"] == "emergency" and items[0]["schedule"] is None
    assert items[0]["note"] == "Bão số 9"
    assert (items[0]["operator"], items[0]["requeued_from"]) == (users["operator"].id, None)


def test_a_requeued_airing_names_the_one_it_airs_again(desk, enrolled, clock):
    agent = enrolled(desk.commune)
    tag = etag_of(plan(agent))
    cut = db.session.scalars(
        select(Airing).where(Airing.station_id == desk.commune.id).order_by(Airing.sequenced_at)
    ).first()
    again = runner.requeue(cut, cut.sequenced_at + timedelta(minutes=4))
    changed = plan(agent, **{"If-None-Match": tag})
    assert changed.status_code == 200
    item = next(i for i in changed.get_json()["items"] if i["id"] == again.id)
    assert (item["requeued_from"], item["operator"]) == (cut.id, None)
    assert item["airing_key"].startswith(cut.airing_key + "~r")
    # Nothing in the new fields changes by itself: the same plan, the same ETag.
    clock.advance(hours=1)
    assert plan(agent, **{"If-None-Match": etag_of(changed)}).status_code == 304


def test_playout_mode_and_policy_are_part_of_the_plan(desk, enrolled, app):
    agent = enrolled(desk.commune)
    before = plan(agent)
    service.set_playout_mode(None, desk.commune, "agent")
    after = plan(agent, **{"If-None-Match": etag_of(before)})
    assert after.status_code == 200
    assert after.get_json()["playout"]["mode"] == "agent"
    desk.commune.grace_s = 120.0
    desk.commune.misfire_policy = "skip"
    db.session.commit()
    policy = plan(agent).get_json()["playout"]
    assert (policy["grace_s"], policy["misfire_policy"]) == (120.0, "skip")


def test_output_settings_reach_the_agent_without_secrets(desk, enrolled, app):
    app.config["PLAYOUT_STATIONS"] = {
        "PT-PHUTHUY": {
            "output": "icecast",
            "settings": {
                "url": "http://source:hunter2@127.0.0.1:8000/xa01.mp3",
                "password": "hunter2",
                "password_env": "LOA_ICECAST_PASSWORD",
            },
        }
    }
    response = plan(enrolled(desk.commune))
    assert "hunter2" not in response.get_data(as_text=True)
    assert response.get_json()["playout"]["output"] == {
        "name": "icecast",
        "settings": {
            "url": "http://source@127.0.0.1:8000/xa01.mp3",
            "password_env": "LOA_ICECAST_PASSWORD",
        },
    }


def test_a_missing_audio_file_shows_as_unknown_size(desk, enrolled):
    render = desk.script.approved_render
    (current_app.config["AUDIO_DIR"] / render.audio_path).unlink()
    body = plan(enrolled(desk.commune)).get_json()
    assert body["items"][0]["audio"]["size"] is None
    assert body["items"][0]["audio"]["sha256"] == render.audio_sha256


def test_each_sync_notes_when_the_agent_was_seen(desk, enrolled, clock):
    agent = enrolled(desk.commune)
    assert agent.agent.last_seen_at is None  # enrolling is not a sync
    plan(agent)
    first = clock.now()
    db.session.expire_all()
    assert agent.agent.last_seen_at == first
    clock.advance(seconds=10)
    plan(agent)
    db.session.expire_all()
    assert agent.agent.last_seen_at == first  # written at most every SEEN_EVERY_S
    clock.advance(seconds=service.SEEN_EVERY_S)
    plan(agent)
    db.session.expire_all()
    assert agent.agent.last_seen_at == clock.now()


def _set_first_airing_status(desk):
    db.session.execute(
        update(Airing)
        .where(Airing.station_id == desk.commune.id)
        .values(status=AiringStatus.SKIPPED)
    )


def _retitle_script(desk):
    db.session.execute(
        update(Script).where(Script.id == desk.script.id).values(title="Tiêu đề mới")
    )


def _remove_audio_file(desk):
    render = desk.script.approved_render
    (current_app.config["AUDIO_DIR"] / render.audio_path).unlink()


def _rename_station(desk):
    db.session.execute(
        update(Station).where(Station.id == desk.commune.id).values(name="Đài xã mới")
    )


@pytest.mark.parametrize(
    "change", [_set_first_airing_status, _retitle_script, _remove_audio_file, _rename_station]
)
def test_a_change_made_by_another_process_is_seen_at_the_next_sync(desk, enrolled, change):
    """A 304 comes from a fingerprint of what the plan is read from, never from a copy of the
    plan: a change written straight to the database (another worker, the runner, a CLI) or
    to the audio folder reaches the agent at its next sync."""
    agent = enrolled(desk.commune)
    tag = etag_of(plan(agent))
    assert plan(agent, **{"If-None-Match": tag}).status_code == 304
    change(desk)
    db.session.commit()
    db.session.expire_all()
    after = plan(agent, **{"If-None-Match": tag})
    assert after.status_code == 200
    assert etag_of(after) != tag
    assert hashlib.sha256(after.data).hexdigest() == etag_of(after).strip('"')
    assert plan(agent, **{"If-None-Match": etag_of(after)}).status_code == 304


def test_an_agent_holding_an_old_plan_gets_the_whole_current_one(desk, enrolled):
    """The fingerprint matches, the agent's ETag does not (it lost its copy): full answer."""
    agent = enrolled(desk.commune)
    first = plan(agent)
    assert plan(agent, **{"If-None-Match": etag_of(first)}).status_code == 304
    again = plan(agent, **{"If-None-Match": '"lost"'})
    assert again.status_code == 200
    assert again.data == first.data
