"""Schedule files: import and export through the CLI, idempotent, all or nothing per run."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from flask import current_app
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.extensions import db
from app.org.service import add_session
from app.schedules import service
from app.schedules.files import read_text
from app.schedules.models import (
    Airing,
    AiringStatus,
    CancelledOccurrence,
    Schedule,
    ScheduleStatus,
)
from app.schedules.recurrence import LOCAL_TZ, Recurrence, from_rrule
from app.scripts.models import Priority
from app.scripts.service import approve_script, archive_script
from tests.factories import make_script, make_station, submit

# The test clock is 08:00 on Friday 27/11/2026 in Vietnam.
WEEK = "dates: {start: 2026-11-28, end: 2026-12-04}"


def local(day: date, hh: int, mm: int = 0) -> datetime:
    """An aware UTC datetime from a wall-clock time in Asia/Ho_Chi_Minh."""
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=LOCAL_TZ).astimezone(UTC)


def approved(users, unit, key: str, title: str, **fields):
    """A script with a source key, rendered, submitted and approved."""
    fields.setdefault("valid_until", date(2026, 12, 31))
    script = make_script(users["writer"], unit, title=title, **fields)
    script.source_key = key
    db.session.commit()
    submit(users["writer"], script)
    return approve_script(users["supervisor"], script)


def with_sessions(station):
    """A morning and an evening session, every day."""
    add_session(None, station, "Buổi sáng", time(5, 30), time(6, 15), 15, "1234567")
    add_session(None, station, "Buổi chiều", time(17, 0), time(17, 45), 15, "1234567")
    return station


@pytest.fixture
def desk(org, users):
    """Scripts in every state the import meets, and stations inside and outside scope."""
    draft = make_script(users["writer"], org.district, title="Bản nháp chưa duyệt")
    draft.source_key = "ban-nhap"
    db.session.commit()
    archived = approved(users, org.district, "luu-tru", "Kịch bản đã lưu trữ")
    archive_script(users["supervisor"], archived)
    return {
        "script": approved(users, org.district, "keu-goi", "Kêu gọi tiêm chủng"),
        "other": approved(users, org.district, "phong-dich", "Nhắc phòng dịch"),
        "expired": approved(
            users, org.district, "het-han", "Hết hạn", valid_until=date(2026, 11, 20)
        ),
        "draft": draft,
        "archived": archived,
        "commune": with_sessions(make_station(org.commune, "PT-PHUTHUY")),
        "city": with_sessions(make_station(org.district, "PT-CITY")),
        "outside": with_sessions(make_station(org.other_district, "LG-RADIO")),
    }


def write(name: str, text: str) -> Path:
    """A schedule file in SCHEDULES_DIR."""
    folder = Path(current_app.config["SCHEDULES_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def run(runner, *args: str, user: str = "operator"):
    """Invoke `flask schedules ...`; import runs as the given fixture user."""
    argv = ["schedules", *args]
    if args[0] == "import":
        argv += ["--as", user]
    result = runner.invoke(args=argv)
    db.session.expire_all()
    return result


def counts() -> tuple[int, int, int, int]:
    """Rows of schedules, airings, cancellations and audit events."""
    return tuple(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (Schedule, Airing, CancelledOccurrence, AuditEvent)
    )


def active() -> dict[str, Schedule]:
    """Active schedules by source key."""
    rows = db.session.scalars(select(Schedule).where(Schedule.status == ScheduleStatus.ACTIVE))
    return {s.source_key: s for s in rows}


CAMPAIGN = f"""
# Chiến dịch thử
- key: sang-chieu
  script: keu-goi
  stations: [pt-phuthuy, PT-CITY]
  times: [05:45, 17:15]
  priority: khẩn cấp
  {WEEK}
- key: moi-buoi
  script: Nhắc phòng dịch
  units: [C]
  per_session: 2
  weekdays: "12345"
  count: 8
  gap_seconds: 10
  {WEEK}
"""


def test_import_creates_schedules_with_their_rules_stations_and_keys(desk, runner):
    write("chien-dich.yaml", CAMPAIGN)
    result = run(runner, "import")

    assert result.exit_code == 0, result.output
    assert "tạo mới" in result.output and "chien-dich/sang-chieu" in result.output
    assert "Nhập lịch từ 1 tệp: 2 tạo mới, 0 thay thế, 0 không đổi" in result.output
    schedules = active()
    times = schedules["chien-dich/sang-chieu"]
    assert times.script_id == desk["script"].id
    assert [s.code for s in times.stations] == ["PT-CITY", "PT-PHUTHUY"] and times.units == []
    assert times.priority == Priority.EMERGENCY
    # Unquoted 17:15 is a time, not YAML 1.1's base-60 number 1035.
    assert from_rrule(times.rrule) == Recurrence(
        kind="times",
        times=(time(5, 45), time(17, 15)),
        start_date=date(2026, 11, 28),
        end_date=date(2026, 12, 4),
    )
    per_session = schedules["chien-dich/moi-buoi"]
    assert per_session.script_id == desk["other"].id
    assert [u.code for u in per_session.units] == ["C"] and per_session.stations == []
    assert per_session.priority == Priority.HIGH  # the script's own
    assert per_session.gap_seconds == 10.0
    rule = from_rrule(per_session.rrule)
    assert (rule.kind, rule.per_session, rule.weekdays, rule.count) == (
        "per_session",
        2,
        frozenset({1, 2, 3, 4, 5}),
        8,
    )
    assert per_session.unit_id == desk["city"].unit_id  # the operator's unit owns them
    # 7 days x 2 times x 2 stations, and the per-session cap of 8 on the commune station.
    planned = db.session.scalars(select(Airing.schedule_id)).all()
    assert planned.count(times.id) == 28 and planned.count(per_session.id) == 8
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "schedule.import"))
    assert event.details["source_key"] in schedules


def test_reimporting_an_unchanged_file_changes_nothing(desk, runner):
    write("chien-dich.yaml", CAMPAIGN)
    assert run(runner, "import").exit_code == 0
    before, ids = counts(), {k: s.id for k, s in active().items()}

    again = run(runner, "import")

    assert again.exit_code == 0, again.output
    assert "0 tạo mới, 0 thay thế, 2 không đổi" in again.output
    assert counts() == before and {k: s.id for k, s in active().items()} == ids


def test_relative_dates_stick_to_the_day_of_the_first_import(desk, runner, clock):
    write(
        "tuan-nay.yaml",
        "- {key: a, script: keu-goi, all: true, times: '05:45', dates: {start: today, days: 7}}\n",
    )
    assert run(runner, "import").exit_code == 0
    schedule = active()["tuan-nay/a"]
    assert (schedule.start_date, schedule.end_date) == (date(2026, 11, 27), date(2026, 12, 3))
    assert [u.code for u in schedule.units] == ["D"]  # all: the operator's unit
    before = counts()

    clock.advance(days=2)
    again = run(runner, "import")

    assert "1 không đổi" in again.output and counts() == before


def test_a_changed_entry_replaces_its_schedule_and_keeps_cancellations(desk, runner, users):
    write("chien-dich.yaml", CAMPAIGN)
    run(runner, "import")
    old = active()["chien-dich/sang-chieu"]
    off = local(date(2026, 11, 29), 5, 45)
    service.cancel_occurrence(users["operator"], old, None, off, "Mất điện cả khu vực")
    service.cancel_occurrence(
        users["operator"], old, desk["city"], local(date(2026, 12, 1), 5, 45), "Sửa máy phát"
    )
    old_id = old.id

    write("chien-dich.yaml", CAMPAIGN.replace("times: [05:45, 17:15]", "times: '05:45, 17:30'"))
    result = run(runner, "import")

    assert result.exit_code == 0, result.output
    assert "thay thế" in result.output and "giữ 2 lần hủy của lịch cũ" in result.output
    assert "1 thay thế, 1 không đổi" in result.output
    assert db.session.get(Schedule, old_id).status == ScheduleStatus.DELETED
    new = active()["chien-dich/sang-chieu"]
    assert new.id != old_id and from_rrule(new.rrule).times == (time(5, 45), time(17, 30))
    kept = db.session.scalars(
        select(CancelledOccurrence).where(CancelledOccurrence.schedule_id == new.id)
    ).all()
    assert {(c.station_id, c.occurs_at, c.reason) for c in kept} == {
        (None, off, "Mất điện cả khu vực"),
        (desk["city"].id, local(date(2026, 12, 1), 5, 45), "Sửa máy phát"),
    }
    statuses = {
        a.station_id: a.status
        for a in db.session.scalars(
            select(Airing).where(Airing.schedule_id == new.id, Airing.planned_at == off)
        )
    }
    assert set(statuses.values()) == {AiringStatus.CANCELLED} and len(statuses) == 2
    # The old schedule's future planned airings are gone; nothing airs twice.
    assert not db.session.scalars(
        select(Airing).where(Airing.schedule_id == old_id, Airing.status == AiringStatus.PLANNED)
    ).all()


def test_an_entry_left_out_keeps_running_unless_pruned(desk, runner):
    write("chien-dich.yaml", CAMPAIGN)
    run(runner, "import")
    only_first = CAMPAIGN.split("- key: moi-buoi")[0]
    write("chien-dich.yaml", only_first)

    kept = run(runner, "import")
    assert "không còn trong tệp" in kept.output and "--prune" in kept.output
    assert set(active()) == {"chien-dich/sang-chieu", "chien-dich/moi-buoi"}

    pruned = run(runner, "import", "--prune")
    assert pruned.exit_code == 0, pruned.output
    assert "đã xóa" in pruned.output and "1 đã xóa" in pruned.output
    assert set(active()) == {"chien-dich/sang-chieu"}


def test_dry_run_reports_and_saves_nothing(desk, runner):
    write("chien-dich.yaml", CAMPAIGN)
    before = counts()
    result = run(runner, "import", "--dry-run")
    assert result.exit_code == 0 and "2 tạo mới" in result.output
    assert "Chạy thử: không có gì được lưu." in result.output
    assert counts() == before


def rules() -> list[tuple]:
    """What each active schedule airs, where and when: the part a round trip must keep."""
    return sorted(
        (
            s.script_id,
            s.priority.value,
            s.gap_seconds,
            tuple(st.code for st in s.stations),
            tuple(u.code for u in s.units),
            replace(from_rrule(s.rrule), exceptions=frozenset()),
        )
        for s in active().values()
    )


def test_export_then_import_into_an_empty_database_gives_the_same_rules(
    desk, runner, users, tmp_path
):
    write(
        "chien-dich.yaml",
        CAMPAIGN + "- key: moi-nua-gio\n  script: keu-goi\n  units: [D]\n"
        "  every: {minutes: 30, from: '06:30', to: '16:30'}\n  dates: {start: today, days: 3}\n"
        "  confirm_warnings: true\n",
    )
    assert run(runner, "import").exit_code == 0
    in_app = service.create_schedule(
        users["operator"],
        service.ScheduleInput(
            script=desk["script"],
            recurrence=Recurrence(
                kind="times",
                times=(time(17, 40),),
                start_date=date(2026, 12, 7),
                end_date=date(2026, 12, 9),
            ),
            stations=[desk["commune"]],
        ),
    )
    service.cancel_occurrence(
        users["operator"], in_app, None, local(date(2026, 12, 8), 17, 40), "Họp dân"
    )
    expected = rules()
    exported = run(runner, "export", "-o", str(tmp_path / "x.yaml"))
    assert "Đã ghi 4 lịch" in exported.output
    text = (tmp_path / "x.yaml").read_text("utf-8")
    assert "key: chien-dich.sang-chieu" in text and f"key: lich-{in_app.id}" in text
    assert "1 lần phát đã hủy trong ứng dụng không được ghi vào tệp" in text
    assert "every: {minutes: 30, from: '06:30', to: '16:30'}" in text

    for schedule in active().values():
        service.delete_schedule(users["operator"], schedule)
    assert active() == {}
    write("sao-luu.yaml", text)
    result = run(runner, "import", str(Path(current_app.config["SCHEDULES_DIR"]) / "sao-luu.yaml"))

    assert result.exit_code == 0, result.output
    assert "4 tạo mới" in result.output
    assert rules() == expected


def test_export_of_one_file_stem_reimports_unchanged(desk, runner):
    write("chien-dich.yaml", CAMPAIGN)
    run(runner, "import")
    exported = run(runner, "export", "--source", "chien-dich")
    assert "- key: sang-chieu" in exported.output and "  times: 05:45, 17:15" in exported.output
    write("chien-dich.yaml", exported.output)
    before = counts()
    again = run(runner, "import")
    assert "2 không đổi" in again.output and counts() == before


def test_export_of_a_unit_leaves_out_other_units_schedules(desk, runner, users):
    write("chien-dich.yaml", CAMPAIGN)
    run(runner, "import")
    assert "key: chien-dich.sang-chieu" in run(runner, "export", "--unit", "d").output
    assert "0 lịch" in run(runner, "export", "--unit", "D2").output
    assert "Không có đơn vị mã" in run(runner, "export", "--unit", "NOPE").output


GOOD = f"- key: tot\n  script: keu-goi\n  stations: [PT-CITY]\n  times: '05:45'\n  {WEEK}\n"


def entry(fields: str) -> str:
    """The good entry followed by a bad one named "sai"."""
    return GOOD + "- key: sai\n" + fields


@pytest.mark.parametrize(
    ("text", "where", "fragment"),
    [
        (
            entry(f"  script: khong-co\n  stations: [PT-CITY]\n  times: '05:45'\n  {WEEK}\n"),
            "mục “sai”",
            "không có kịch bản “khong-co”",
        ),
        (
            entry(f"  script: keu-goi\n  stations: [KHONG-CO]\n  times: '05:45'\n  {WEEK}\n"),
            "mục “sai”",
            "không có đài mã “KHONG-CO”",
        ),
        (
            entry(f"  script: keu-goi\n  units: [KHONG-CO]\n  times: '05:45'\n  {WEEK}\n"),
            "mục “sai”",
            "không có đơn vị mã “KHONG-CO”",
        ),
        (
            entry(f"  script: keu-goi\n  stations: [PT-CITY]\n  times: '25:00'\n  {WEEK}\n"),
            "mục “sai”",
            "Giờ “25:00” không hợp lệ",
        ),
        (
            entry(
                "  script: keu-goi\n  stations: [PT-CITY]\n  times: '05:45'\n"
                "  dates: {start: 2026-12-04, end: 2026-11-28}\n"
            ),
            "mục “sai”",
            "Ngày kết thúc 28/11/2026 trước ngày bắt đầu 4/12/2026",
        ),
        (
            entry(
                "  script: keu-goi\n  stations: [PT-CITY]\n  times: '05:45'\n  weekdays: [7]\n"
                "  dates: {start: 2026-11-30, end: 2026-12-04}\n"
            ),
            "mục “sai”",
            "không tạo ra lần phát nào",
        ),
        (
            entry(
                "  script: keu-goi\n  stations: [PT-CITY]\n"
                "  every: {minutes: 1, from: '00:00', to: '23:59'}\n"
                "  dates: {start: 2026-11-28, end: 2027-03-31}\n"
            ),
            "mục “sai”",
            "quá mức tối đa 100.000",
        ),
        (
            entry(f"  script: ban-nhap\n  stations: [PT-CITY]\n  times: '05:45'\n  {WEEK}\n"),
            "mục “sai”",
            "Kịch bản chưa được duyệt",
        ),
        (
            entry(f"  script: luu-tru\n  stations: [PT-CITY]\n  times: '05:45'\n  {WEEK}\n"),
            "mục “sai”",
            "Kịch bản đã lưu trữ",
        ),
        (
            entry(f"  script: het-han\n  stations: [PT-CITY]\n  times: '05:45'\n  {WEEK}\n"),
            "mục “sai”",
            "Kịch bản đã hết hiệu lực ngày 20/11/2026",
        ),
        (
            entry(f"  script: keu-goi\n  stations: [LG-RADIO]\n  times: '05:45'\n  {WEEK}\n"),
            "mục “sai”",
            "nằm ngoài phạm vi đơn vị của bạn",
        ),
        (
            entry(f"  script: keu-goi\n  stations: [PT-CITY]\n  times: '12:00'\n  {WEEK}\n"),
            "mục “sai”",
            "thêm confirm_warnings: true",
        ),
        (
            entry(
                f"  script: keu-goi\n  stations: [PT-CITY]\n  times: '05:45'\n  {WEEK}\n"
                "  times: '06:00'\n"
            ),
            "dòng 11",
            "trường “times” được ghi hai lần",
        ),
        (GOOD + "- key: sai\n  script: [chưa đóng\n", "lich.yaml", "YAML không đọc được ở dòng"),
        (
            GOOD + f"- script: keu-goi\n  stations: [PT-CITY]\n  times: '05:45'\n  {WEEK}\n",
            "mục thứ 2",
            "thiếu key",
        ),
        (GOOD + GOOD, "mục “tot”", "key trùng với mục thứ 1"),
        (
            entry(f"  script: keu-goi\n  stations: [PT-CITY]\n  tmes: '05:45'\n  {WEEK}\n"),
            "mục “sai”",
            "trường “tmes” không hợp lệ",
        ),
        (
            entry(f"  script: keu-goi\n  stations: [PT-CITY]\n  {WEEK}\n"),
            "mục “sai”",
            "thiếu quy tắc lặp",
        ),
        (entry(f"  script: keu-goi\n  times: '05:45'\n  {WEEK}\n"), "mục “sai”", "chọn đài phát"),
        (
            entry(
                "  script: keu-goi\n  stations: [PT-CITY]\n  times: '05:45'\n"
                "  dates: {start: mai}\n"
            ),
            "mục “sai”",
            "dates.start “mai” phải là ngày",
        ),
        (
            entry(
                f"  script: keu-goi\n  stations: [PT-CITY]\n  times: '05:45'\n  {WEEK}\n"
                "  priority: gấp\n"
            ),
            "mục “sai”",
            "priority phải là thông thường, ưu tiên hoặc khẩn cấp",
        ),
        ("key: a\nscript: keu-goi\n", "lich.yaml", "tệp phải là một danh sách các mục lịch"),
    ],
    ids=[
        "unknown-script",
        "unknown-station",
        "unknown-unit",
        "25:00",
        "end-before-start",
        "no-occurrence",
        "over-100000",
        "unapproved-script",
        "archived-script",
        "expired-script",
        "station-outside-unit",
        "warnings-unconfirmed",
        "field-twice",
        "yaml-syntax",
        "missing-key",
        "duplicate-key",
        "unknown-field",
        "no-rule",
        "no-stations",
        "bad-date",
        "bad-priority",
        "not-a-list",
    ],
)
def test_bad_input_names_file_and_entry_and_saves_nothing(desk, runner, text, where, fragment):
    write("lich.yaml", text)
    before = counts()

    result = run(runner, "import")

    assert result.exit_code == 1
    assert fragment in result.output and where in result.output
    assert "lich.yaml" in result.output
    assert "không có lịch nào được lưu" in result.output
    assert counts() == before


def test_a_bad_file_stops_the_good_ones_of_the_same_run(desk, runner):
    write("a-tot.yaml", CAMPAIGN)
    write("b-sai.yaml", entry("  script: keu-goi\n"))
    before = counts()
    result = run(runner, "import")
    assert result.exit_code == 1 and "b-sai.yaml, mục “sai”" in result.output
    assert counts() == before


def test_a_failure_after_other_entries_were_saved_rolls_them_back(desk, runner):
    # The first entry is saved before the second fails in the service: the run is undone.
    write(
        "lich.yaml",
        CAMPAIGN + entry(f"  script: ban-nhap\n  all: true\n  times: '05:45'\n  {WEEK}\n"),
    )
    before = counts()
    result = run(runner, "import")
    assert result.exit_code == 1 and "chưa được duyệt" in result.output
    assert counts() == before


def test_import_needs_a_user_allowed_to_schedule(desk, runner):
    write("chien-dich.yaml", CAMPAIGN)
    missing = runner.invoke(args=["schedules", "import"])
    assert missing.exit_code == 1 and "--as TÊN_ĐĂNG_NHẬP" in missing.output
    unknown = runner.invoke(args=["schedules", "import", "--as", "ai-do"])
    assert unknown.exit_code == 1 and "Không có người dùng “ai-do”" in unknown.output
    writer = run(runner, "import", user="writer")
    assert writer.exit_code == 1 and "không được lập lịch phát" in writer.output
    assert active() == {}


def test_supervisor_above_can_replace_but_a_commune_user_cannot_touch_it(desk, runner, users):
    write("chien-dich.yaml", CAMPAIGN)
    assert run(runner, "import", user="supervisor").exit_code == 0
    assert active()["chien-dich/sang-chieu"].unit.code == "P"
    write("chien-dich.yaml", CAMPAIGN.replace("khẩn cấp", "ưu tiên"))
    refused = run(runner, "import", user="operator")
    assert refused.exit_code == 1 and "do đơn vị cấp trên lập" in refused.output


def test_reading_keeps_times_as_text_and_reads_relative_days():
    parsed = read_text(
        "- key: a\n  script: x\n  all: true\n  every: {minutes: 20, from: 6:00, to: 7:10}\n"
        "  dates: {start: today+1, end: 'hôm nay+8'}\n",
        "a.yaml",
        "a",
    )
    (only,) = parsed.entries
    assert (only.window_start, only.window_end, only.every_minutes) == (time(6), time(7, 10), 20)
    assert only.start.on(date(2026, 11, 27)) == date(2026, 11, 28)
    assert only.end.on(date(2026, 11, 27)) == date(2026, 12, 5)
    assert only.source_key == "a/a"
