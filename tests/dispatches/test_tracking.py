"""The tracking page of a dispatch: per unit asked to act, scripts drafted, approved and
scheduled, airings aired and missed (the airtime reports' figures), what is overdue; scope
and roles checked on the server.

The world: a dispatch received by the district, asking two communes with a station each
(PT-B, PT-C) and a third commune with no station to act. Two approved scripts drafted from it
are scheduled today on both stations at 08:10 / 08:20 and 17:00 / 17:10; the log of the day
(written as the runner writes it) has six aired rows (one late), one missed, one skipped and
one failed. A script of the same campaign and source that is not linked to the dispatch aires
too and must not count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from app.auth.models import User
from app.broadcast.models import LogStatus
from app.core.clock import LOCAL_TZ
from app.dispatches import tracking
from app.dispatches.models import Dispatch, DispatchStatus
from app.extensions import db
from app.org.models import Station, Unit
from app.org.service import add_session
from app.playout import runner
from app.reports import service as reports
from app.reports.service import ReportFilter
from app.schedules import service as schedules
from app.schedules.models import Airing
from app.schedules.recurrence import Recurrence
from app.scripts.models import Script
from app.scripts.service import approve_script
from app.speech.models import Render
from tests.factories import make_script, make_station, make_unit, submit

TODAY = date(2026, 11, 27)
ISSUED = date(2026, 11, 20)
RUNNER_HOST = "runner-test"
CAMPAIGN = "Tiêm chủng COVID-19 đợt 6"
SOURCE = "855/BCĐ-TBTTTT"


def local(hh: int, mm: int = 0, day: date = TODAY) -> datetime:
    """Aware UTC from a wall-clock time in Vietnam."""
    return datetime.combine(day, time(hh, mm), LOCAL_TZ).astimezone(UTC)


def make_dispatch(unit: Unit, targets: list[Unit] | None = None, **fields) -> Dispatch:
    """A confirmed dispatch like the seed 855/BCĐ-TBTTTT, received by unit, with every NOT NULL
    column of the migration given a value."""
    now = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)
    values = {
        "unit_id": unit.id,
        "status": DispatchStatus.CONFIRMED,
        "file_name": "855-BCD-TBTTTT.pdf",
        "file_kind": "pdf",
        "media_type": "application/pdf",
        "sha256": f"{fields.get('number', 855):064x}",
        "size": 12345,
        "pages": 3,
        "ocr": False,
        "text": "Thực hiện Kế hoạch số 1286/KH-UBND …",
        "problems": [],
        "kind": "công văn",
        "number": 855,
        "code": "BCĐ-TBTTTT",
        "issuer": "TIỂU BAN THÔNG TIN TUYÊN TRUYỀN",
        "parent_issuer": "BCĐ PHÒNG CHỐNG DỊCH COVID-19 TỈNH BÌNH THUẬN",
        "place": "Bình Thuận",
        "issued_on": ISSUED,
        "subject": "đẩy mạnh truyền thông chiến dịch tiêm vắc xin và cài đặt Sổ sức khỏe điện tử",
        "urgency": "HỎA TỐC",
        "secrecy": "",
        "addressees": ["UBND các huyện, thị xã, thành phố"],
        "distribution": ["Như trên", "Lưu: VT, TTBCXB"],
        "signer_title": "TRƯỞNG TIỂU BAN",
        "signer_name": "Dương Tự",
        "cites": [],
        "contacts": [],
        "deadlines": [],
        "points": [],
        "campaign": CAMPAIGN,
        "valid_from": ISSUED,
        "valid_until": date(2026, 12, 31),
        "report_due": None,
        "received_at": now,
        "updated_at": now,
        "search_text": "855/bcd-tbtttt",
    }
    values.update(fields)
    dispatch = Dispatch(**values)
    dispatch.targets = list(targets or [])
    db.session.add(dispatch)
    db.session.commit()
    return dispatch


def approved_for(dispatch: Dispatch | None, writer: User, supervisor: User, unit: Unit, title: str):
    """A script drafted from the dispatch (or from none), rendered, submitted and approved."""
    script = make_script(
        writer,
        unit,
        title=title,
        campaign=CAMPAIGN,
        source_kind="Công văn",
        source_number=SOURCE,
        valid_until=date(2026, 12, 31),
    )
    if dispatch is not None:
        script.dispatch_id = dispatch.id
        db.session.commit()
    submit(writer, script)
    return approve_script(supervisor, script)


def with_sessions(station: Station) -> Station:
    """Morning 08:00–09:00 and evening 17:00–17:45, every day, 15 minutes each."""
    add_session(None, station, "Buổi sáng", time(8, 0), time(9, 0), 15, "1234567")
    add_session(None, station, "Buổi chiều", time(17, 0), time(17, 45), 15, "1234567")
    return station


def schedule_today(operator: User, script: Script, stations: list[Station], *hhmm: time):
    """Schedule the script today at the given times on the stations; its airings in order."""
    rule = Recurrence(kind="times", times=hhmm, start_date=TODAY, end_date=TODAY)
    data = schedules.ScheduleInput(
        script=script, recurrence=rule, stations=stations, confirm_warnings=True
    )
    schedule = schedules.create_schedule(operator, data)
    return db.session.scalars(
        select(Airing)
        .where(Airing.schedule_id == schedule.id)
        .order_by(Airing.sequenced_at, Airing.station_id)
    ).all()


def play(airing: Airing, status: LogStatus, seconds: float = 60.0, reason: str = "") -> None:
    """Write the airing's log row as the runner does (runner.log_entry and runner.finish)."""
    render = db.session.get(Render, airing.render_id)
    fields: dict = {"status": status, "reason": reason}
    if status in (LogStatus.AIRED, LogStatus.AIRED_LATE):
        late = timedelta(minutes=2) if status == LogStatus.AIRED_LATE else timedelta()
        start = airing.sequenced_at + late
        fields.update(started_at=start, ended_at=start + timedelta(seconds=seconds))
        fields["duration_s"] = seconds
    runner.finish(airing.id, runner.log_entry(airing, render, RUNNER_HOST, **fields))


@dataclass
class World:
    """What build_world made."""

    dispatch: Dispatch
    scripts: list[Script]
    stranger: Script
    draft: Script
    stations: list[Station]
    targets: list[Unit]


def build_world(district: Unit, writer: User, supervisor: User, operator: User, clock) -> World:
    """The module docstring's dispatch, scripts, schedules and log, under district."""
    communes = [
        make_unit("PT-PTY", "Phường Phú Thủy", parent=district, level="Phường"),
        make_unit("PT-DNG", "Phường Đức Nghĩa", parent=district, level="Phường"),
        make_unit("PT-TLO", "Xã Tiến Lợi", parent=district, level="Xã"),
    ]
    b = with_sessions(make_station(communes[0], "PT-B", "Đài Truyền thanh phường Phú Thủy"))
    c = with_sessions(make_station(communes[1], "PT-C", "Đài Truyền thanh phường Đức Nghĩa"))
    dispatch = make_dispatch(district, communes)
    first = approved_for(dispatch, writer, supervisor, district, "Kêu gọi tiêm vắc xin mũi 3")
    second = approved_for(dispatch, writer, supervisor, district, "Cài đặt Sổ sức khỏe điện tử")
    stranger = approved_for(None, writer, supervisor, district, "Tiêm chủng không theo văn bản")
    draft = make_script(writer, district, title="Bản nháp từ công văn", campaign=CAMPAIGN)
    draft.dispatch_id = dispatch.id
    db.session.commit()
    one = schedule_today(operator, first, [b, c], time(8, 10), time(17, 0))
    two = schedule_today(operator, second, [b, c], time(8, 20), time(17, 10))
    other = schedule_today(operator, stranger, [b], time(8, 30))
    clock.advance(hours=10)  # 18:00: the day's airings are past
    b1, c1, b17, c17 = one
    b2, c2, b27, c27 = two
    play(b1, LogStatus.AIRED, 60)
    play(c1, LogStatus.AIRED, 60)
    play(b17, LogStatus.AIRED_LATE, 60)
    play(c17, LogStatus.SKIPPED, reason="bỏ qua: trễ quá thời gian cho phép")
    play(b2, LogStatus.AIRED, 90)
    play(c2, LogStatus.MISSED, reason="bỏ lỡ: mất điện lưới khu phố 3")
    play(b27, LogStatus.AIRED, 90)
    play(c27, LogStatus.FAILED, reason="lỗi: tệp âm thanh không mở được")
    play(other[0], LogStatus.AIRED, 45)
    db.session.expire_all()
    return World(dispatch, [first, second], stranger, draft, [b, c], communes)


@pytest.fixture
def world(org, users, clock) -> World:
    """The module docstring's world under the fixture district."""
    return build_world(org.district, users["writer"], users["supervisor"], users["operator"], clock)


# --- the figures ----------------------------------------------------------------------------


def test_each_unit_asked_to_act_has_its_scripts_and_airings(world, users):
    found = tracking.dispatch_tracking(users["supervisor2"], world.dispatch)
    by_unit = {line.unit.code: line for line in found.lines}
    assert list(by_unit) == ["PT-DNG", "PT-PTY", "PT-TLO"]  # the targets, by code
    b, c, idle = by_unit["PT-PTY"], by_unit["PT-DNG"], by_unit["PT-TLO"]
    # Scripts without targets of their own concern every unit under theirs (the district);
    # the draft counts as drafted, not approved.
    for line in (b, c, idle):
        assert (line.drafted, line.approved) == (3, 2)
    assert (b.scheduled, c.scheduled, idle.scheduled) == (2, 2, 0)
    # PT-B aired all four; PT-C aired one of four (skipped, missed, failed).
    assert (b.tally.planned, b.tally.on_air, b.not_aired) == (4, 4, 0)
    assert (c.tally.planned, c.tally.on_air, c.not_aired) == (4, 1, 3)
    assert b.tally.airtime_s == pytest.approx(60 + 60 + 90 + 90)
    assert c.tally.airtime_s == pytest.approx(60)
    assert idle.tally.planned == 0
    assert idle.problems == ["Chưa có lịch phát."]
    assert c.problems == ["3 lượt không phát được (bỏ lỡ, lỗi hoặc bỏ qua)."]
    assert b.problems == []
    # The stranger's airing on PT-B (same campaign, same source) is not the dispatch's.
    assert found.total.total.on_air == 5
    assert [s.script.title for s in found.scripts] == [
        "Kêu gọi tiêm vắc xin mũi 3",
        "Cài đặt Sổ sức khỏe điện tử",
        "Bản nháp từ công văn",
    ]
    first, second, draft = found.scripts
    assert (first.tally.on_air, first.tally.skipped, second.tally.missed) == (3, 1, 1)
    assert (first.approved, first.scheduled, draft.approved, draft.scheduled) == (
        True,
        True,
        False,
        False,
    )


def test_tracking_figures_are_the_airtime_reports(world, users):
    """The same filter on the reports service gives the page's figures, station by station."""
    sup = users["supervisor2"]
    found = tracking.dispatch_tracking(sup, world.dispatch)
    for line in found.lines:
        board = reports.airtime_dashboard(
            sup, ReportFilter(period=found.period, unit=line.unit, dispatch_id=world.dispatch.id)
        )
        assert line.tally.as_dict() == board.total.as_dict(), line.unit.code


def test_the_dispatch_filter_narrows_the_report_pages_too(world, login_as):
    client = login_as("supervisor2")
    base = f"period=custom&date={ISSUED}&end={TODAY}"
    everything = client.get(f"/reports/?{base}").get_data(as_text=True)
    narrowed = client.get(f"/reports/?{base}&dispatch={world.dispatch.id}")
    html = narrowed.get_data(as_text=True)
    assert narrowed.status_code == 200
    assert "Thực hiện công văn số 855/BCĐ-TBTTTT ngày 20/11/2026" in html
    assert "Tiêm chủng không theo văn bản" in everything
    assert "Tiêm chủng không theo văn bản" not in html
    proof = client.get(f"/reports/campaign?{base}&dispatch={world.dispatch.id}")
    assert proof.status_code == 200
    assert "mất điện lưới khu phố 3" in proof.get_data(as_text=True)
    assert client.get(f"/reports/?{base}&dispatch=abc").status_code == 404
    assert client.get(f"/reports/?{base}&dispatch=99999999999").status_code == 404


def test_overdue_report_validity_and_missed_airings_are_listed(world, users, clock):
    world.dispatch.report_due = date(2026, 11, 25)
    world.dispatch.valid_until = date(2026, 11, 26)
    db.session.commit()
    found = tracking.dispatch_tracking(users["supervisor2"], world.dispatch)
    assert found.overdue == [
        "Quá hạn báo cáo kết quả 2 ngày (hạn 25/11/2026) mà chưa lập báo cáo.",
        "Đã hết thời hạn thực hiện (đến 26/11/2026); chưa lập báo cáo kết quả.",
        "3 lượt phát theo lịch không phát được (bỏ lỡ, lỗi hoặc bỏ qua).",
        "Đơn vị cần đôn đốc: Phường Đức Nghĩa, Xã Tiến Lợi.",
    ]


def test_a_planned_airing_past_its_grace_without_a_log_row_is_overdue(world, users, clock, org):
    later = schedule_today(users["operator"], world.scripts[0], [world.stations[0]], time(18, 10))
    assert later[0].status.value == "planned"
    clock.advance(minutes=20)  # 18:20: 18:10 is past its five minutes of grace, still unlogged
    found = tracking.dispatch_tracking(users["supervisor2"], world.dispatch)
    b = next(line for line in found.lines if line.unit.code == "PT-PTY")
    assert b.overdue_airings == 1
    assert "1 lượt đã quá giờ mà chưa có nhật ký phát sóng." in b.problems


def test_a_dispatch_without_targets_is_tracked_for_its_receiving_unit(org, users):
    dispatch = make_dispatch(org.district, number=856)
    found = tracking.dispatch_tracking(users["supervisor2"], dispatch)
    assert [(ln.unit.code, ln.drafted, ln.problems) for ln in found.lines] == [
        ("D", 0, ["Chưa có kịch bản nào được soạn."])
    ]
    assert "Chưa có kịch bản nào được soạn từ văn bản này." in found.overdue


# --- the page -------------------------------------------------------------------------------


def cells(html: str, unit: str) -> list[str]:
    """The cells of a unit's row of the units table, as text."""
    row = re.search(
        rf"<tr[^>]*>\s*<th scope=\"row\" data-label=\"Đơn vị\">{unit}</th>(.*?)</tr>", html, re.S
    )
    assert row, unit
    return [
        re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row[1], re.S)
    ]


def test_the_page_shows_each_unit_and_links_to_the_reports(world, login_as):
    client = login_as("supervisor2")
    response = client.get(f"/dispatches/{world.dispatch.id}/tracking")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<h1>Theo dõi thực hiện</h1>" in html
    assert cells(html, "Phường Phú Thủy")[:7] == ["3", "2", "2", "4", "4", "0", "5"]
    assert cells(html, "Phường Đức Nghĩa")[:7] == ["3", "2", "2", "4", "1", "3", "1"]
    assert cells(html, "Xã Tiến Lợi")[:7] == ["3", "2", "0", "0", "0", "0", "0"]
    query = f"period=custom&amp;date={ISSUED}&amp;end={TODAY}&amp;dispatch={world.dispatch.id}"
    assert f'href="/reports/?{query}&amp;unit=PT-PTY"' in html
    assert f'href="/reports/campaign?{query}"' in html
    assert f'href="/dispatches/{world.dispatch.id}/report"' in html
    assert f'href="/scripts/{world.scripts[0].id}"' in html


def test_a_writer_sees_the_page_but_may_not_issue_the_report(world, login_as):
    client = login_as("writer")
    html = client.get(f"/dispatches/{world.dispatch.id}/tracking").get_data(as_text=True)
    assert "Số lượt phát chỉ tính các kịch bản do chính bạn soạn" in html
    assert f"/dispatches/{world.dispatch.id}/report" not in html
    refused = client.get(f"/dispatches/{world.dispatch.id}/report")
    assert refused.status_code == 403
    assert "Chỉ người duyệt" in refused.get_data(as_text=True)


@pytest.mark.parametrize("who", ["outsider", "outside_supervisor"])
def test_a_dispatch_outside_the_users_units_is_not_revealed(world, login_as, who):
    client = login_as(who)
    for path in ("tracking", "report"):
        response = client.get(f"/dispatches/{world.dispatch.id}/{path}")
        html = response.get_data(as_text=True)
        assert response.status_code == 404, path
        assert "855" not in html and "Phú Thủy" not in html
    missing = client.get("/dispatches/99999999999/tracking")
    assert missing.status_code == 404


def test_a_target_outside_the_viewers_units_shows_no_figures(org, users, login_as):
    dispatch = make_dispatch(org.district, [org.commune, org.other_district], number=857)
    found = tracking.dispatch_tracking(users["supervisor2"], dispatch)
    assert [(ln.unit.code, ln.reachable) for ln in found.lines] == [("C", True), ("D2", False)]
    html = login_as("supervisor2").get(f"/dispatches/{dispatch.id}/tracking").get_data(as_text=True)
    assert "Ngoài phạm vi đơn vị của bạn: không có số liệu." in html


def test_an_operator_may_view_tracking(world, users, login_as):
    client = login_as("operator")
    assert client.get(f"/dispatches/{world.dispatch.id}/tracking").status_code == 200
    assert client.get(f"/dispatches/{world.dispatch.id}/report").status_code == 403


def test_the_report_due_is_not_overdue_once_a_report_was_issued(world, users):
    world.dispatch.report_due = date(2026, 11, 25)
    world.dispatch.status = DispatchStatus.CLOSED
    db.session.commit()
    found = tracking.dispatch_tracking(users["supervisor2"], world.dispatch)
    assert not any("hạn báo cáo" in item for item in found.overdue)


def test_an_old_dispatch_is_tracked_over_the_last_366_days(org, users, login_as):
    """The report pages take a year at most: the tracking period ends today and says so."""
    dispatch = make_dispatch(
        org.district, number=859, issued_on=date(2021, 8, 30), valid_from=None, valid_until=None
    )
    found = tracking.dispatch_tracking(users["supervisor2"], dispatch)
    assert (found.period.start, found.period.end) == (date(2025, 11, 27), TODAY)
    assert found.clamped
    html = login_as("supervisor2").get(f"/dispatches/{dispatch.id}/tracking").get_data(as_text=True)
    assert "văn bản từ 30/08/2021; tính 366 ngày gần nhất" in html
