"""Units as a tree of any depth, stations and their broadcast sessions."""

from datetime import time

import pytest

from app.audit.models import AuditEvent
from app.core.errors import ValidationError
from app.extensions import db
from app.org import service
from app.org.models import BroadcastSession, Station, StationKind, Unit
from tests.factories import make_station, make_unit


def test_units_nest_to_any_depth_and_paths_follow(org):
    hamlet = make_unit("KP", "Khu phố 1", parent=org.commune, level="Khu phố")
    assert hamlet.path == f"{org.commune.path}{hamlet.id}/"
    assert org.province.contains(hamlet)
    assert not org.other_district.contains(hamlet)
    assert [u.code for u in service.subtree_units(org.district)] == ["D", "C", "KP"]


def test_moving_a_unit_moves_its_subtree(login_as, org):
    """The 2025 reform removed districts: communes move up to the province."""
    hamlet = make_unit("KP", "Khu phố 1", parent=org.commune)
    response = login_as("admin").post(
        f"/admin/units/{org.commune.id}",
        data={
            "code": "C",
            "name": "Phường Phú Thủy",
            "level": "Phường",
            "parent_id": org.province.id,
            "active": "y",
        },
    )
    assert response.status_code == 302
    assert org.commune.parent_id == org.province.id
    assert org.commune.path == f"/{org.province.id}/{org.commune.id}/"
    assert hamlet.path == f"{org.commune.path}{hamlet.id}/"
    assert not org.district.contains(hamlet)


def test_unit_cannot_move_into_its_own_subtree(login_as, org):
    response = login_as("admin").post(
        f"/admin/units/{org.district.id}",
        data={
            "code": "D",
            "name": "Thành phố Phan Thiết",
            "level": "Thành phố",
            "parent_id": org.commune.id,
            "active": "y",
        },
    )
    assert "Lựa chọn không hợp lệ." in response.get_data(as_text=True)
    db.session.expire_all()
    assert org.district.parent_id == org.province.id


def test_service_refuses_moving_a_unit_below_itself(users, org):
    data = service.UnitInput(code="D", name="Phan Thiết", level="", parent=org.commune)
    with pytest.raises(ValidationError, match="bên trong chính nó"):
        service.update_unit(users["admin"], org.district, data)


def test_unit_codes_are_unique_and_plain(login_as, org):
    client = login_as("admin")
    for code, message in [("D", "đã được dùng"), ("Phú Thủy", "Mã")]:
        response = client.post(
            "/admin/units/new", data={"code": code, "name": "Xã mới", "parent_id": org.district.id}
        )
        assert message in response.get_data(as_text=True)
    assert db.session.query(Unit).count() == 4


def test_admin_creates_unit_and_it_is_audited(login_as, org):
    login_as("admin").post(
        "/admin/units/new",
        data={
            "code": "C2",
            "name": "Xã Tiến Lợi",
            "level": "Xã",
            "parent_id": org.district.id,
            "active": "y",
        },
    )
    unit = db.session.query(Unit).filter_by(code="C2").one()
    assert unit.parent_id == org.district.id
    event = db.session.query(AuditEvent).filter_by(action="unit.create", object_id=unit.id).one()
    assert event.actor_name == "admin"
    assert event.ip == "127.0.0.1"


def test_admin_creates_station_with_sessions(login_as, org):
    client = login_as("admin")
    response = client.post(
        "/admin/stations/new",
        data={
            "code": "ts-pty",
            "name": "Truyền thanh phường Phú Thủy",
            "kind": "commune_loudspeaker",
            "unit_id": org.commune.id,
            "active": "y",
        },
    )
    station = db.session.query(Station).one()
    assert response.headers["Location"] == f"/admin/stations/{station.id}"
    assert (station.code, station.kind) == ("TS-PTY", StationKind.COMMUNE_LOUDSPEAKER)
    client.post(
        f"/admin/stations/{station.id}/sessions",
        data={
            "name": "Buổi sáng",
            "start_time": "05:30",
            "end_time": "06:15",
            "cap_minutes": "45",
            "weekdays": ["1", "2", "3", "4", "5"],
        },
    )
    client.post(
        f"/admin/stations/{station.id}/sessions",
        data={
            "name": "Buổi chiều",
            "start_time": "17:00",
            "end_time": "17:45",
            "cap_minutes": "45",
            "weekdays": ["1", "2", "3", "4", "5", "6", "7"],
        },
    )
    page = client.get(f"/admin/stations/{station.id}").get_data(as_text=True)
    assert "05:30–06:15" in page
    assert "T2, T3, T4, T5, T6" in page
    assert [(s.start_time, s.weekdays) for s in station.sessions] == [
        (time(5, 30), "12345"),
        (time(17, 0), "1234567"),
    ]


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"start_time": "25:00"}, "Giờ không hợp lệ (dạng HH:MM)."),
        ({"start_time": "06:15", "end_time": "05:30"}, "Giờ kết thúc phải sau giờ bắt đầu"),
        ({"cap_minutes": "90"}, "Thời lượng tối đa phải từ 1 đến 45 phút."),
        ({"cap_minutes": "0"}, "Từ 1 đến 1440 phút."),
        ({"weekdays": []}, "Chọn ít nhất một ngày trong tuần."),
        ({"start_time": "05:00", "end_time": "05:45"}, "Trùng với buổi “Buổi sáng”"),
        ({"name": ""}, "Bắt buộc."),
    ],
)
def test_bad_session_is_refused_with_a_message(login_as, org, form, message):
    station = make_station(org.commune)
    service.add_session(None, station, "Buổi sáng", time(5, 30), time(6, 15), 45, "1234567")
    data = (
        {
            "name": "Buổi mới",
            "start_time": "05:30",
            "end_time": "06:15",
            "cap_minutes": "45",
            "weekdays": ["1"],
        }
        | {"start_time": "07:00", "end_time": "07:45"}
        | form
    )
    response = login_as("admin").post(f"/admin/stations/{station.id}/sessions", data=data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.query(BroadcastSession).count() == 1


def test_sessions_on_different_weekdays_may_share_hours(org):
    station = make_station(org.commune)
    service.add_session(None, station, "Ngày thường", time(5, 30), time(6, 15), 45, "12345")
    service.add_session(None, station, "Cuối tuần", time(5, 30), time(6, 0), 15, "67")
    assert len(station.sessions) == 2


def test_removing_a_session_is_audited(login_as, org):
    station = make_station(org.commune)
    session = service.add_session(None, station, "Sáng", time(5, 30), time(6, 0), 30, "1")
    login_as("admin").post(f"/admin/sessions/{session.id}/delete")
    assert db.session.query(BroadcastSession).count() == 0
    assert db.session.query(AuditEvent).filter_by(action="station.session_remove").count() == 1


def test_station_code_must_be_unique(org):
    make_station(org.commune, code="ST-1")
    with pytest.raises(ValidationError, match="đã được dùng"):
        make_station(org.district, code="st-1")


def test_station_changes_are_audited_with_before_and_after(users, org):
    station = make_station(org.district, "ST-A", "Đài A")
    data = service.StationInput(
        code="ST-A",
        name="Đài A",
        kind=station.kind,
        unit=org.district,
        intro_text="Đài A xin thông báo",
        target_lufs=-18.0,
    )
    service.update_station(users["admin"], station, data)
    event = db.session.query(AuditEvent).filter_by(action="station.update").one()
    assert event.details == {
        "before": {"intro_text": "", "target_lufs": -16.0},
        "after": {"intro_text": "Đài A xin thông báo", "target_lufs": -18.0},
    }


def test_unit_changes_are_audited_with_before_and_after(users, org):
    data = service.UnitInput(
        code="C", name="Phường Phú Thủy mới", level="Phường", parent=org.district
    )
    service.update_unit(users["admin"], org.commune, data)
    event = db.session.query(AuditEvent).filter_by(action="unit.update").one()
    assert event.details == {
        "before": {"name": "Phường Phú Thủy"},
        "after": {"name": "Phường Phú Thủy mới"},
    }


def _policy_form(station, **overrides) -> dict:
    """The station form as the admin submits it, with a playout policy."""
    data = {
        "code": station.code,
        "name": station.name,
        "kind": station.kind.value,
        "unit_id": station.unit_id,
        "active": "y",
        "misfire_policy": "skip",
        "grace_minutes": "10",
        "interrupt_policy": "drop",
    }
    data.update(overrides)
    return data


def test_admin_sets_the_stations_playout_policy_and_it_is_audited(login_as, org):
    station = make_station(org.commune, "PT-PTY", "Truyền thanh Phú Thủy")
    client = login_as("admin")
    form_page = client.get(f"/admin/stations/{station.id}").get_data(as_text=True)
    assert "Phát muộn nếu trễ trong thời gian cho phép" in form_page
    assert "Phát lại sau tin khẩn cấp" in form_page
    assert "Để trống là mặc định 5 phút." in form_page

    response = client.post(f"/admin/stations/{station.id}", data=_policy_form(station))

    assert response.status_code == 302
    db.session.refresh(station)
    assert (station.misfire_policy, station.grace_s, station.interrupt_policy) == (
        "skip",
        600.0,
        "drop",
    )
    event = db.session.query(AuditEvent).filter_by(action="station.update").one()
    assert event.details == {
        "before": {"misfire_policy": "late", "grace_s": None, "interrupt_policy": "requeue"},
        "after": {"misfire_policy": "skip", "grace_s": 600.0, "interrupt_policy": "drop"},
    }
    page = client.get(f"/admin/stations/{station.id}").get_data(as_text=True)
    assert 'name="grace_minutes" placeholder="5" type="number" value="10"' in page


def test_an_empty_grace_means_the_runners_default(login_as, org):
    station = make_station(org.commune)
    station.grace_s = 120.0
    db.session.commit()

    login_as("admin").post(
        f"/admin/stations/{station.id}",
        data=_policy_form(station, grace_minutes="", misfire_policy="late"),
    )

    db.session.refresh(station)
    assert (station.misfire_policy, station.grace_s) == ("late", None)


def test_a_form_without_policy_fields_keeps_the_stations_policy(login_as, org):
    station = make_station(org.commune)
    station.misfire_policy, station.grace_s = "skip", 60.0
    db.session.commit()
    data = _policy_form(station)
    for name in ("misfire_policy", "grace_minutes", "interrupt_policy"):
        del data[name]

    assert login_as("admin").post(f"/admin/stations/{station.id}", data=data).status_code == 302

    db.session.refresh(station)
    assert (station.misfire_policy, station.grace_s, station.interrupt_policy) == (
        "skip",
        60.0,
        "requeue",
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"grace_minutes": "61"}, "Từ 0 đến 60 phút."),
        ({"grace_minutes": "-1"}, "Từ 0 đến 60 phút."),
        ({"grace_minutes": "năm"}, "Phải là số nguyên."),
        ({"misfire_policy": "later"}, "Lựa chọn không hợp lệ."),
        ({"interrupt_policy": "keep"}, "Lựa chọn không hợp lệ."),
    ],
)
def test_a_bad_playout_policy_is_refused_and_nothing_saved(login_as, org, overrides, message):
    station = make_station(org.commune)
    response = login_as("admin").post(
        f"/admin/stations/{station.id}", data=_policy_form(station, **overrides)
    )

    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    db.session.refresh(station)
    assert (station.misfire_policy, station.grace_s, station.interrupt_policy) == (
        "late",
        None,
        "requeue",
    )
    assert db.session.query(AuditEvent).filter_by(action="station.update").count() == 0


def test_the_service_refuses_a_grace_over_an_hour(users, org):
    station = make_station(org.commune, "ST-G")
    data = service.StationInput(
        code="ST-G", name=station.name, kind=station.kind, unit=org.commune, grace_s=3601.0
    )
    with pytest.raises(ValidationError) as refused:
        service.update_station(users["admin"], station, data)
    assert refused.value.fields == {"grace_s": "Từ 0 đến 60 phút."}


def test_a_new_station_takes_its_playout_policy_from_the_form(login_as, org):
    response = login_as("admin").post(
        "/admin/stations/new",
        data={
            "code": "TS-NEW",
            "name": "Truyền thanh mới",
            "kind": "commune_loudspeaker",
            "unit_id": org.commune.id,
            "active": "y",
            "misfire_policy": "skip",
            "grace_minutes": "0",
            "interrupt_policy": "requeue",
        },
    )
    assert response.status_code == 302
    station = db.session.query(Station).filter_by(code="TS-NEW").one()
    assert (station.misfire_policy, station.grace_s) == ("skip", 0.0)
