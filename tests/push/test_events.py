"""What publishes a wake, and for which stations: changes of agent-run stations' airings (through
objects and bulk statements), "phát ngay", a withdrawn approval, a switch of playout mode; only
once committed, never for what is rolled back or for centrally aired stations."""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select, text

from app.agents import service
from app.extensions import db
from app.playout import manual
from app.schedules import service as schedules
from app.schedules.files import import_paths
from app.schedules.models import Airing, AiringStatus
from app.scripts.models import ScriptStatus
from app.scripts.service import ScriptInput, archive_script, update_script
from tests.agents.conftest import schedule_on

COMMUNE = "PT-PHUTHUY"
CITY = "PT-CITY"
# 05:45 on 28/11/2026 in Vietnam, an occurrence of the desk's schedule.
FIRST_MORNING = datetime(2026, 11, 27, 22, 45, tzinfo=UTC)


def test_air_now_wakes_the_agent_run_station_with_reason_air_now(desk, users, agent_run, published):
    agent_run(desk.commune)
    published.clear()

    manual.air_now(users["operator"], desk.script, [desk.commune, desk.city], "Bão số 9")

    # The city is aired centrally: its agent-less loudspeakers need no wake.
    assert published.sent == [
        (
            f"loa/stations/{COMMUNE}/wake",
            {"station": COMMUNE, "reason": "air_now", "at": "2026-11-27T01:00:00+00:00"},
        )
    ]


def test_a_new_schedule_wakes_only_the_agent_run_stations(desk, users, agent_run, published):
    agent_run(desk.commune)
    published.clear()

    schedule_on(users, desk.script, [desk.commune, desk.city], time(17, 30))

    assert published.wakes() == {COMMUNE: "plan"}
    assert len(published.sent) == 1


def test_changes_of_centrally_aired_stations_wake_nobody(desk, users, published):
    schedule_on(users, desk.script, [desk.commune, desk.city], time(17, 30))
    manual.air_now(users["operator"], desk.script, [desk.city])
    schedules.delete_schedule(users["operator"], desk.schedule)

    assert published.sent == []


def test_deleting_a_schedule_wakes_its_stations(desk, users, agent_run, published):
    agent_run(desk.commune)
    agent_run(desk.city)
    published.clear()

    # A bulk DELETE of the future planned airings: no object passes the flush.
    schedules.delete_schedule(users["operator"], desk.schedule)

    assert published.wakes() == {COMMUNE: "plan", CITY: "plan"}


def test_cancelling_an_occurrence_wakes_only_the_station_it_is_cancelled_on(
    desk, users, agent_run, published
):
    agent_run(desk.commune)
    agent_run(desk.city)
    published.clear()

    # A conditional bulk UPDATE planned -> cancelled.
    schedules.cancel_occurrence(
        users["operator"], desk.schedule, desk.city, FIRST_MORNING, "Sửa máy phát"
    )

    assert published.wakes() == {CITY: "plan"}


def test_cancelling_an_occurrence_on_a_central_station_wakes_nobody(
    desk, users, agent_run, published
):
    agent_run(desk.commune)
    published.clear()

    schedules.cancel_occurrence(
        users["operator"], desk.schedule, desk.city, FIRST_MORNING, "Sửa máy phát"
    )

    assert published.sent == []


def test_editing_a_schedule_by_file_wakes_once_its_import_is_committed(
    app, desk, users, agent_run, published
):
    agent_run(desk.commune)
    desk.script.source_key = "keu-goi"
    db.session.commit()
    published.clear()
    folder = Path(current_app.config["SCHEDULES_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "lich.yaml"
    entry = (
        "- key: chieu\n  script: keu-goi\n  stations: [PT-PHUTHUY]\n  times: [{at}]\n"
        "  dates: {{start: 2026-11-28, end: 2026-12-04}}\n"
    )
    committed: list[int] = []

    def publish(topic: str, payload: bytes) -> bool:
        # What another connection (an agent's sync) sees at the moment the wake goes out.
        with db.engine.connect() as other:
            committed.append(other.scalar(text("SELECT count(*) FROM airings")))
        return type(published).publish(published, topic, payload)

    published.publish = publish
    path.write_text(entry.format(at="17:30"), encoding="utf-8")
    import_paths(users["operator"], [path], dry_run=True)
    assert published.sent == []  # a dry run rolls back: nothing changed

    before = db.session.scalar(select(func.count()).select_from(Airing))
    import_paths(users["operator"], [path])
    assert published.wakes() == {COMMUNE: "plan"}
    assert committed == [before + 7]  # the wake leaves after the import's commit

    # Edited: the entry's schedule is replaced (its airings deleted, new ones planned).
    published.clear()
    path.write_text(entry.format(at="17:35"), encoding="utf-8")
    import_paths(users["operator"], [path])
    assert published.wakes() == {COMMUNE: "plan"}
    assert len(published.sent) == 1


def _edit(users, script) -> None:
    """The writer edits the script's body: its approval is withdrawn."""
    data = ScriptInput(
        title=script.title,
        body=script.current_version.body + " Xin cảm ơn bà con.",
        unit=script.unit,
        priority=script.priority,
        valid_until=script.valid_until,
    )
    update_script(users["writer"], script, data, None)


def test_a_withdrawn_approval_wakes_the_stations_with_its_planned_airings(
    desk, users, agent_run, published
):
    agent_run(desk.commune)
    agent_run(desk.foreign)  # an agent-run station with nothing of this script planned
    published.clear()

    _edit(users, desk.script)

    assert desk.script.status == ScriptStatus.DRAFT
    assert published.wakes() == {COMMUNE: "plan"}


def test_archiving_an_approved_script_wakes_its_stations(desk, users, agent_run, published):
    agent_run(desk.city)
    published.clear()

    archive_script(users["supervisor"], desk.script)

    assert published.wakes() == {CITY: "plan"}


def test_an_edit_of_a_script_that_was_not_approved_wakes_nobody(desk, users, agent_run, published):
    agent_run(desk.commune)
    _edit(users, desk.script)
    published.clear()

    _edit(users, desk.script)  # a draft edited again

    assert published.sent == []


def test_switching_the_playout_mode_wakes_the_agent_both_ways(desk, enrolled, published):
    caller = enrolled(desk.commune)
    caller.get("/api/v1/agent/plan")
    published.clear()

    service.set_playout_mode(None, desk.commune, "agent")
    assert published.wakes() == {COMMUNE: "plan"}

    published.clear()
    service.set_playout_mode(None, desk.commune, "central")
    assert published.wakes() == {COMMUNE: "plan"}


def test_changes_rolled_back_publish_nothing(desk, users, agent_run, published):
    agent_run(desk.commune)
    published.clear()
    airing = db.session.scalars(
        select(Airing).where(
            Airing.station_id == desk.commune.id, Airing.status == AiringStatus.PLANNED
        )
    ).first()

    airing.sequenced_at = airing.sequenced_at.replace(minute=50)
    db.session.flush()
    db.session.rollback()
    db.session.commit()
    assert published.sent == []

    # Committed, the same change wakes the station.
    airing.sequenced_at = airing.sequenced_at.replace(minute=50)
    db.session.commit()
    assert published.wakes() == {COMMUNE: "plan"}


def test_a_closed_session_forgets_what_it_flushed(desk, users, agent_run, published):
    agent_run(desk.commune)
    published.clear()
    airing = db.session.scalars(select(Airing).where(Airing.station_id == desk.commune.id)).first()
    airing.note = "thử"
    db.session.flush()
    db.session.close()

    assert "loa.push.pending" not in db.session.info
    db.session.commit()
    assert published.sent == []


def test_without_push_nothing_is_published_and_nothing_fails(app, desk, users, agent_run):
    app.config.update(MQTT_URL="", PUSH_PUBLISHER=None)
    agent_run(desk.commune)

    airings = manual.air_now(users["operator"], desk.script, [desk.commune])

    assert airings[0].id is not None
    assert not db.session.info.get("loa.push.pending")


def test_a_publisher_that_raises_never_fails_the_change(app, desk, users, agent_run):
    agent_run(desk.commune)

    class Broken:
        def publish(self, topic, payload):
            raise RuntimeError("broker on fire")

        def close(self):
            return None

    app.config["PUSH_PUBLISHER"] = Broken()
    airings = manual.air_now(users["operator"], desk.script, [desk.commune])

    assert db.session.get(Airing, airings[0].id).priority.value == "emergency"


def test_deleting_an_airing_read_before_the_last_commit_wakes_its_station(
    desk, agent_run, published
):
    agent_run(desk.commune)
    airing = db.session.scalars(select(Airing).where(Airing.station_id == desk.commune.id)).first()
    db.session.commit()  # every attribute expired
    published.clear()

    db.session.delete(airing)
    db.session.commit()

    assert published.wakes() == {COMMUNE: "plan"}
