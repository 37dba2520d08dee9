"""A programme airs like a spot: schedule → runner → output → log, with each item in the log
(title, kind, sha256, start, length) on the playout log, the logbook page and its CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import time, timedelta

import pytest
from sqlalchemy import func, select

from app.broadcast.models import BroadcastLog, LogStatus
from app.core.errors import ValidationError
from app.extensions import db
from app.org.service import add_session
from app.playout import runner
from app.programmes import service
from app.programmes.mix import mix_offsets
from app.programmes.models import ItemKind
from app.schedules import service as schedules
from app.schedules.models import Airing, Schedule
from app.scripts.service import approve_script, submit_script
from app.speech import service as speech
from app.speech.pipeline import sha256_file
from tests.programmes.conftest import entry, mix_now, tone_spot
from tests.schedules.test_service import START, times_rule


def approved_programme(users, org, station, rundown, session="Buổi sáng", **fields):
    """A programme saved, mixed, submitted by the writer and approved by the supervisor."""
    script = service.create_programme(
        users["writer"],
        service.ProgrammeInput(
            title=fields.pop("title", "Chương trình sáng thứ Bảy"),
            unit=org.district,
            items=rundown,
            station_id=station.id,
            session_name=session,
            **fields,
        ),
    )
    mix = mix_now(users["writer"], script)
    assert mix.status.value == "done", mix.error
    submit_script(users["writer"], script)
    approve_script(users["supervisor"], script)
    return script, mix


def schedule_at(users, script, station, at: time) -> Airing:
    """Schedule the programme once, on the first test day, and return its airing."""
    schedules.create_schedule(
        users["operator"],
        schedules.ScheduleInput(
            script=script, recurrence=times_rule(at, end=START), stations=[station]
        ),
    )
    return db.session.scalar(select(Airing).where(Airing.script_id == script.id))


def test_a_scheduled_programme_airs_its_mix_and_logs_each_item(
    app, users, org, station, items, clock, tmp_path
):
    spot = tone_spot(users, org.district, title="Thông báo lịch tiêm chủng")
    script, mix = approved_programme(
        users,
        org,
        station,
        [
            entry("library", items["jingle"], gap_ms=1000),
            entry("script", spot, crossfade_ms=50),
            entry("library", items["ident"]),
        ],
        bed_item_id=items["bed"].id,
    )
    airing = schedule_at(users, script, station, time(5, 45))
    assert (airing.render_id, airing.duration_s) == (mix.id, mix.duration_s)

    # The real runner cycle, airing to a folder another playout system watches.
    watched = tmp_path / "watched"
    watched.mkdir()
    app.config["PLAYOUT_OUTPUT"] = "folder"
    app.config["PLAYOUT_SETTINGS"] = {"path": str(watched)}
    clock.current = airing.sequenced_at
    assert runner.run_once(clock, "may-chu")["logged"] == 1
    (delivered,) = watched.iterdir()
    assert sha256_file(delivered) == mix.audio_sha256

    row = db.session.scalars(select(BroadcastLog)).one()
    assert row.status == LogStatus.AIRED
    assert (row.script_id, row.version_id) == (script.id, script.approved_version_id)
    assert (row.render_id, row.audio_sha256) == (mix.id, mix.audio_sha256)
    assert row.duration_s == pytest.approx(mix.duration_s, abs=0.01)

    logged = service.logged_items([row])[row.id]
    settings = service.version_settings(script.approved_version_id)
    assert [(i.position, i.title, i.kind) for i in logged] == [
        (1, "Nhạc hiệu đài", ItemKind.LIBRARY),
        (2, "Thông báo lịch tiêm chủng", ItemKind.SCRIPT),
        (3, "Nhận diện đài", ItemKind.LIBRARY),
    ]
    assert [i.audio_sha256 for i in logged] == [
        items["jingle"].audio_sha256,
        spot.approved_render.audio_sha256,
        items["ident"].audio_sha256,
    ]
    # The starts the log gives are the starts in the aired mix.
    offsets = mix_offsets(mix)
    assert [i.start_s for i in logged] == pytest.approx([o["start_s"] for o in offsets], abs=0.002)
    assert [i.duration_s for i in logged] == pytest.approx(
        [i.duration_s for i in settings.items], abs=0.001
    )
    started = row.started_at
    assert [i.started for i in logged] == [
        (started + timedelta(seconds=i.start_s)).astimezone(logged[0].started.tzinfo)
        for i in logged
    ]

    # The playout log and the station's logbook show the items; so does its CSV.
    supervisor = app.test_client()
    supervisor.post("/login", data={"username": "supervisor", "password": "correct-horse-battery"})
    page = supervisor.get("/playout/log").get_data(as_text=True)
    assert "3 mục của chương trình" in page
    assert "Thông báo lịch tiêm chủng" in page and spot.approved_render.audio_sha256[:12] in page
    day = f"{START:%Y-%m-%d}"
    url = f"/reports/logbook?station={station.code}&period=day&date={day}"
    sheet = supervisor.get(url).get_data(as_text=True)
    assert "Nhạc hiệu đài" in sheet and "Nhận diện đài" in sheet
    assert f"+{logged[1].start_text}" in sheet
    with supervisor.get(url + "&format=csv") as response:
        text = response.get_data(as_text=True)
    table = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    header = next(r for r in table if "Các mục của chương trình" in r)
    line = table[table.index(header) + 1]
    cell = line[header.index("Các mục của chương trình")]
    assert cell.splitlines() == [i.text for i in logged]
    assert cell.splitlines()[1].startswith(f"2. {logged[1].started:%H:%M:%S} Thông báo lịch")


def test_spot_rows_list_no_programme_items(users, org, station, clock):
    spot = tone_spot(users, org.district)
    airing = schedule_at(users, spot, station, time(5, 45))
    clock.current = airing.sequenced_at
    runner.run_once(clock, "may-chu")
    row = db.session.scalars(select(BroadcastLog)).one()
    assert row.status == LogStatus.AIRED and service.logged_items([row]) == {}


def test_a_programme_longer_than_the_session_it_is_scheduled_in_is_refused(
    users, org, station, items
):
    # 74 seconds: it fits the 15-minute morning, not the one-minute evening bulletin.
    rundown = [entry("library", items["ident"], gap_ms=9000) for _ in range(8)]
    script, mix = approved_programme(users, org, station, rundown, title="Chương trình dài")
    assert mix.duration_s == pytest.approx(73.8, abs=0.1)
    with pytest.raises(ValidationError) as refused:
        schedule_at(users, script, station, time(17, 0))
    assert "vượt thời lượng buổi “Bản tin ngắn”" in refused.value.message
    assert "Không lập lịch được" in refused.value.message
    assert db.session.scalar(select(func.count()).select_from(Schedule)) == 0
    assert db.session.scalar(select(func.count()).select_from(Airing)) == 0
    assert schedule_at(users, script, station, time(5, 45)).render_id == mix.id


def test_the_approved_mix_keeps_airing_while_a_new_version_is_drafted(
    users, org, station, items, clock
):
    rundown = [entry("library", items["jingle"]), entry("library", items["ident"])]
    script, mix = approved_programme(users, org, station, rundown)
    airing = schedule_at(users, script, station, time(5, 45))
    approved_version = script.approved_version_id
    service.update_programme(
        users["writer"],
        script,
        service.ProgrammeInput(
            title=script.title,
            unit=org.district,
            items=rundown[:1],
            station_id=station.id,
            session_name="Buổi sáng",
        ),
        script.revision,
    )
    clock.current = airing.sequenced_at
    runner.run_once(clock, "may-chu")
    row = db.session.scalars(select(BroadcastLog)).one()
    # What airs and is logged is the approved version's mix and rundown, not the draft.
    assert (row.version_id, row.audio_sha256) == (approved_version, mix.audio_sha256)
    assert [i.title for i in service.logged_items([row])[row.id]] == [
        "Nhạc hiệu đài",
        "Nhận diện đài",
    ]
    assert speech.latest_done_render(script) is None


def test_two_sessions_of_one_name_are_each_checked_by_their_own_length(users, org, station, items):
    """Weekdays' "Buổi sáng" is 15 minutes; a one-minute weekend one shares the name."""
    add_session(None, station, "Buổi sáng", time(7, 0), time(7, 1), 1, "67")
    rundown = [entry("library", items["ident"], gap_ms=9000) for _ in range(8)]
    script, _ = approved_programme(users, org, station, rundown, title="Chương trình dài")
    weekday_only = schedules.ScheduleInput(
        script=script,
        recurrence=times_rule(time(5, 45), end=START, weekdays=frozenset({1, 2, 3, 4, 5})),
        stations=[station],
        confirm_warnings=True,
    )
    # START (28/11/2026) is a Saturday: the programme lands in the one-minute weekend session.
    at_weekend = replace(
        weekday_only, recurrence=times_rule(time(7, 0), end=START, weekdays=frozenset({6}))
    )
    with pytest.raises(ValidationError, match="vượt thời lượng buổi “Buổi sáng”"):
        schedules.create_schedule(users["operator"], at_weekend)
    assert db.session.scalar(select(func.count()).select_from(Schedule)) == 0
    monday = replace(
        weekday_only,
        recurrence=times_rule(
            time(5, 45),
            start=START + timedelta(days=2),
            end=START + timedelta(days=2),
            weekdays=frozenset({1}),
        ),
    )
    assert schedules.create_schedule(users["operator"], monday).id


def test_the_schedule_page_refuses_a_programme_too_long_for_the_session(
    app, login_as, users, org, station, items
):
    rundown = [entry("library", items["ident"], gap_ms=9000) for _ in range(8)]
    script, _ = approved_programme(users, org, station, rundown, title="Chương trình dài")
    operator = login_as("operator")
    form = {
        "script": script.id,
        "stations": [station.id],
        "kind": "times",
        "times": "17:00",
        "weekdays": [str(d) for d in range(1, 8)],
        "start_date": START.isoformat(),
        "end_date": START.isoformat(),
        "count": "",
        "priority": "",
        "gap_seconds": "5",
    }
    for action in ("check", "save"):
        response = operator.post("/schedules/new", data=form | {"action": action})
        assert response.status_code == 422, action
        page = response.get_data(as_text=True)
        assert "vượt thời lượng buổi “Bản tin ngắn”" in page and "Không lập lịch được" in page
    assert db.session.scalar(select(func.count()).select_from(Schedule)) == 0
    saved = operator.post("/schedules/new", data=form | {"action": "save", "times": "05:45"})
    assert saved.status_code == 302


def _logbook_cell(app, station) -> list[str]:
    """The programme's items cell of the station's logbook CSV for the first test day."""
    supervisor = app.test_client()
    supervisor.post("/login", data={"username": "supervisor", "password": "correct-horse-battery"})
    url = f"/reports/logbook?station={station.code}&period=day&date={START:%Y-%m-%d}"
    with supervisor.get(url + "&format=csv") as response:
        text = response.get_data(as_text=True)
    table = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    header = next(r for r in table if "Các mục của chương trình" in r)
    line = table[table.index(header) + 1]
    return line[header.index("Các mục của chương trình")].splitlines()


def test_an_interrupted_programme_logs_air_times_only_for_what_aired(
    app, users, org, station, items, clock
):
    spot = tone_spot(users, org.district, title="Thông báo lịch tiêm chủng")
    rundown = [
        entry("library", items["jingle"], gap_ms=1000),
        entry("script", spot),
        entry("library", items["ident"]),
    ]
    script, mix = approved_programme(users, org, station, rundown)
    airing = schedule_at(users, script, station, time(5, 45))
    starts = service.start_offsets(service.version_settings(script.approved_version_id).items)
    # Cut 0,1 s into the (0,2 s) spot, as the runner logs a play stopped short.
    played = starts[1] + 0.1
    started = airing.sequenced_at
    entry_ = runner.log_entry(
        airing,
        mix,
        "may-chu",
        status=LogStatus.INTERRUPTED,
        reason="bị ngắt sau 0:03",
        started_at=started,
        ended_at=started + timedelta(seconds=played),
        duration_s=played,
    )
    row = runner.finish(airing.id, entry_)
    logged = service.logged_items([row])[row.id]
    assert [i.started is not None for i in logged] == [True, True, False]
    assert [i.note for i in logged] == ["", "bị ngắt sau 0:00,1", "không phát (bị ngắt)"]
    assert logged[1].started == (started + timedelta(seconds=starts[1])).astimezone(
        logged[1].started.tzinfo
    )
    cell = _logbook_cell(app, station)
    assert cell == [i.text for i in logged]
    assert cell[2].startswith("3. Nhận diện đài [") and cell[2].endswith("— không phát (bị ngắt)")


def test_a_missed_programme_lists_its_items_as_not_aired(app, users, org, station, items, clock):
    rundown = [entry("library", items["jingle"]), entry("library", items["ident"])]
    script, _ = approved_programme(users, org, station, rundown)
    airing = schedule_at(users, script, station, time(5, 45))
    clock.current = airing.sequenced_at + timedelta(hours=1)
    runner.run_once(clock, "may-chu")
    row = db.session.scalars(select(BroadcastLog)).one()
    assert row.status == LogStatus.MISSED
    logged = service.logged_items([row])[row.id]
    assert [(i.title, i.started, i.note) for i in logged] == [
        ("Nhạc hiệu đài", None, "không phát (bỏ lỡ)"),
        ("Nhận diện đài", None, "không phát (bỏ lỡ)"),
    ]
    cell = _logbook_cell(app, station)
    assert cell == [i.text for i in logged]
    assert cell[0].startswith("1. Nhạc hiệu đài [") and cell[0].endswith("— không phát (bỏ lỡ)")
