"""A spot withdrawn from air (archived, expired, not yet valid) or a library item archived does
not air inside a programme: refused in a rundown, on approval and on scheduling; archiving a
spot stops the programmes that hold it; a programme's validity is that of its spots."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.broadcast.models import BroadcastLog
from app.core.errors import Conflict, ValidationError
from app.extensions import db
from app.library.service import set_archived
from app.playout import runner
from app.programmes import service
from app.schedules.models import Airing, Schedule, ScheduleStatus
from app.scripts.models import Script, ScriptReview, ScriptStatus
from app.scripts.service import approve_script, archive_script, submit_script
from app.speech.pipeline import sha256_file
from tests.programmes.conftest import entry, mix_now, tone_spot
from tests.programmes.test_airing import approved_programme, schedule_at
from tests.programmes.test_service import morning, programme_input, stored


def count(model) -> int:
    """Rows of a model."""
    return db.session.scalar(select(func.count()).select_from(model))


def test_an_archived_expired_or_not_yet_valid_spot_is_refused_in_a_rundown(
    users, org, station, items, clock
):
    archived = tone_spot(users, org.district, title="Thông báo đã rút")
    archive_script(users["supervisor"], archived)
    later = tone_spot(users, org.district, title="Thông báo tháng Mười hai")
    later.valid_from = date(2026, 12, 1)
    db.session.commit()
    cases = [
        (archived, "Mục 2: kịch bản “Thông báo đã rút” đã lưu trữ"),
        (later, "Mục 2: kịch bản “Thông báo tháng Mười hai” chưa đến ngày hiệu lực (01/12/2026)"),
    ]
    before = stored()
    for spot, message in cases:
        rundown = [entry("library", items["jingle"]), entry("script", spot)]
        with pytest.raises(ValidationError) as refused:
            service.create_programme(users["writer"], programme_input(org, rundown))
        assert message in refused.value.message
        rows, _ = service.preview(users["writer"], [entry("script", spot)])
        assert rows[0].problem and rows[0].duration_s is None
        assert stored() == before
    # A spot valid to 31/12/2026 is refused once that day has passed.
    expiring = tone_spot(users, org.district, title="Thông báo tiêm chủng")
    before = stored()
    clock.current = datetime(2027, 1, 1, 1, 0, tzinfo=clock.current.tzinfo)
    with pytest.raises(ValidationError, match="đã hết hiệu lực ngày 31/12/2026"):
        service.create_programme(users["writer"], programme_input(org, [entry("script", expiring)]))
    assert stored() == before


def test_a_programme_takes_the_validity_of_its_spots(users, org, station, items, clock):
    early = tone_spot(users, org.district, title="Thông báo A")
    early.valid_from, early.valid_until = date(2026, 11, 20), date(2026, 12, 31)
    short = tone_spot(users, org.district, title="Thông báo B")
    short.valid_from, short.valid_until = date(2026, 11, 25), date(2026, 12, 15)
    db.session.commit()
    rundown = [entry("script", early), entry("library", items["jingle"]), entry("script", short)]
    script = service.create_programme(
        users["writer"], programme_input(org, rundown, **morning(station))
    )
    assert (script.valid_from, script.valid_until) == (date(2026, 11, 25), date(2026, 12, 15))
    # A new rundown sets it again; library items have none of their own.
    service.update_programme(
        users["writer"],
        script,
        programme_input(org, [entry("library", items["jingle"])], **morning(station)),
        script.revision,
    )
    assert (script.valid_from, script.valid_until) == (None, None)
    # An approved programme is scheduled within it, and not after it ended.
    script, _ = approved_programme(users, org, station, rundown, title="Chương trình có hạn")
    assert script.valid_until == date(2026, 12, 15)
    clock.current = datetime(2026, 12, 16, 1, 0, tzinfo=clock.current.tzinfo)
    with pytest.raises(ValidationError, match="đã hết hiệu lực ngày 15/12/2026"):
        schedule_at(users, script, station, time(5, 45))
    assert count(Schedule) == 0


def test_approving_a_programme_whose_item_was_withdrawn_since_is_refused(
    users, org, station, items
):
    spot = tone_spot(users, org.district, title="Thông báo lịch tiêm chủng")
    cases = (
        (lambda: archive_script(users["supervisor"], spot), "“Thông báo lịch tiêm chủng” đã bị"),
        (lambda: set_archived(users["writer"], items["ident"], True), "“Nhận diện đài” đã bị"),
    )
    for withdraw, message in cases:
        rundown = [entry("library", items["ident"]), entry("script", spot)]
        if spot.status == ScriptStatus.ARCHIVED:
            rundown = [entry("library", items["jingle"]), entry("library", items["ident"])]
        script = service.create_programme(
            users["writer"], programme_input(org, rundown, **morning(station))
        )
        mix_now(users["writer"], script)
        submit_script(users["writer"], script)
        withdraw()
        reviews = count(ScriptReview)
        with pytest.raises(ValidationError) as refused:
            approve_script(users["supervisor"], script)
        db.session.rollback()
        assert message in refused.value.message
        assert "Chưa duyệt được chương trình" in refused.value.message
        assert db.session.get(Script, script.id).status == ScriptStatus.SUBMITTED
        assert count(ScriptReview) == reviews


def test_archiving_a_spot_stops_the_approved_programmes_that_hold_it(
    app, users, org, station, items, clock, tmp_path
):
    spot = tone_spot(users, org.district, title="Thông báo lịch tiêm chủng")
    rundown = [entry("library", items["jingle"]), entry("script", spot)]
    script, mix = approved_programme(users, org, station, rundown)
    other, _ = approved_programme(
        users, org, station, [entry("library", items["ident"])], title="Chương trình khác"
    )
    airing = schedule_at(users, script, station, time(5, 45))
    kept = schedule_at(users, other, station, time(5, 50))
    schedule_id, due = airing.schedule_id, airing.sequenced_at
    watched = tmp_path / "watched"
    watched.mkdir()
    app.config["PLAYOUT_OUTPUT"] = "folder"
    app.config["PLAYOUT_SETTINGS"] = {"path": str(watched)}

    archive_script(users["supervisor"], spot)

    assert db.session.get(Schedule, schedule_id).status == ScheduleStatus.DELETED
    assert db.session.scalars(select(Airing)).all() == [kept]
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "script.archive")
    ).one()
    assert event.details["programmes"] == [script.id]
    assert event.details["programme_schedules_stopped"] == 1
    assert event.details["programme_airings_removed"] == 1
    # The runner, at the programme's time, does not air it; the other one airs.
    clock.current = due
    assert runner.run_once(clock, "may-chu")["logged"] == 0
    assert runner.service.refresh_all_airings(clock.now())["added"] == 0
    clock.current = kept.sequenced_at
    result = runner.run_once(clock, "may-chu")
    assert result["logged"] == 1, result
    row = db.session.scalars(select(BroadcastLog)).one()
    assert row.script_id == other.id
    assert [sha256_file(p) for p in watched.iterdir()] != [mix.audio_sha256]
    # Nor can it be scheduled again; the message names the withdrawn item.
    with pytest.raises(ValidationError, match="có mục đã lưu trữ: “Thông báo lịch tiêm chủng”"):
        schedule_at(users, script, station, time(6, 0))


def test_archiving_a_spot_drops_an_airing_due_moments_ago_that_has_not_started(
    users, org, station, clock
):
    spot = tone_spot(users, org.district)
    airing = schedule_at(users, spot, station, time(5, 45))
    # A minute late (the runner was busy): still planned, still within the grace.
    clock.current = airing.sequenced_at + timedelta(minutes=1)
    archive_script(users["supervisor"], spot)
    assert count(Airing) == 0
    assert runner.run_once(clock, "may-chu")["logged"] == 0
    assert count(BroadcastLog) == 0


def test_archiving_a_library_item_an_approved_programme_airs_is_refused(users, org, station, items):
    rundown = [entry("library", items["jingle"]), entry("library", items["ident"])]
    script, _ = approved_programme(users, org, station, rundown, bed_item_id=items["bed"].id)
    for item in (items["ident"], items["bed"]):
        with pytest.raises(Conflict) as refused:
            set_archived(users["writer"], item, True)
        db.session.rollback()
        assert "Chương trình sáng thứ Bảy" in refused.value.message
        assert f"“{item.title}”" in refused.value.message
        assert not db.session.get(type(item), item.id).archived
    # Once the programme is archived, its items may be.
    archive_script(users["supervisor"], script)
    set_archived(users["writer"], items["ident"], True)
    assert items["ident"].archived
