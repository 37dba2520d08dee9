"""Script desk pages: editor, bad input, list search and filters, diff, review."""

import re

import pytest

from app.extensions import db
from app.scripts import service
from app.scripts.models import Priority, Script, ScriptStatus, ScriptVersion
from tests.factories import make_script, make_unit, submit


def _form(org, **overrides):
    """A valid editor form submission."""
    data = {
        "title": "Kêu gọi tiêm vắc xin",
        "body": "Thưa bà con, hãy đi tiêm vắc xin khi đến lượt.",
        "priority": "priority",
        "campaign": "Tiêm chủng COVID-19 đợt 6",
        "unit_id": org.district.id,
        "targets": [org.district.id, org.commune.id],
        "source_kind": "Công văn",
        "source_number": "855/BCĐ-TBTTTT",
        "source_date": "2021-08-30",
        "valid_from": "2021-08-30",
        "valid_until": "2021-12-31",
    }
    data.update(overrides)
    return data


def _count_versions():
    return db.session.query(ScriptVersion).count()


def test_writer_drafts_script_through_editor(login_as, org):
    client = login_as("writer")
    response = client.post("/scripts/new", data=_form(org), follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Đã lưu bản nháp (phiên bản 1)." in page
    script = db.session.query(Script).one()
    assert script.source_label == "Công văn 855/BCĐ-TBTTTT ngày 30/8/2021"
    assert script.priority == Priority.HIGH
    assert sorted(u.code for u in script.targets) == ["C", "D"]
    assert "Công văn 855/BCĐ-TBTTTT ngày 30/8/2021" in page


def test_body_is_stored_in_nfc(login_as, org):
    decomposed = "Thu\u031ba ba\u0300 con"  # "Thưa bà con" written with combining marks
    login_as("writer").post("/scripts/new", data=_form(org, body=decomposed))
    assert db.session.query(ScriptVersion).one().body == "Thưa bà con"


@pytest.mark.parametrize("body", ["", "   \n\t  "])
def test_empty_body_is_refused_and_nothing_saved(login_as, org, body):
    response = login_as("writer").post("/scripts/new", data=_form(org, body=body))
    assert response.status_code == 422
    assert "Nội dung không được để trống." in response.get_data(as_text=True)
    assert db.session.query(Script).count() == 0


def test_body_over_limit_is_refused_with_its_length(login_as, org):
    response = login_as("writer").post("/scripts/new", data=_form(org, body="a" * 20_001))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "20.001 ký tự, vượt giới hạn 20.000 ký tự" in page
    assert db.session.query(Script).count() == 0


def test_body_of_exactly_the_limit_is_accepted(login_as, org):
    response = login_as("writer").post("/scripts/new", data=_form(org, body="á" * 20_000))
    assert response.status_code == 302


def test_valid_until_before_valid_from_is_refused(login_as, org):
    response = login_as("writer").post(
        "/scripts/new", data=_form(org, valid_from="2021-09-10", valid_until="2021-09-01")
    )
    assert response.status_code == 422
    assert "Ngày hết hiệu lực không được trước ngày bắt đầu hiệu lực." in response.get_data(
        as_text=True
    )
    assert db.session.query(Script).count() == 0


def test_malformed_date_gets_a_vietnamese_message(login_as, org):
    response = login_as("writer").post("/scripts/new", data=_form(org, valid_from="30/02/2021"))
    assert response.status_code == 422
    assert "Ngày không hợp lệ." in response.get_data(as_text=True)


def test_html_in_title_and_body_is_shown_escaped(login_as, org):
    evil = '<script>alert("x")</script><b>đậm</b>'
    client = login_as("writer")
    client.post("/scripts/new", data=_form(org, title=evil, body=evil))
    script = db.session.query(Script).one()
    for url in [f"/scripts/{script.id}", "/scripts", f"/scripts/{script.id}/versions/1"]:
        page = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in page
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;b&gt;đậm&lt;/b&gt;" in page
    assert script.current_version.body == evil


def test_pages_send_a_strict_content_security_policy(login_as):
    response = login_as("writer").get("/scripts")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_stale_edit_is_refused_and_the_editors_text_is_kept(login_as, users, org):
    script = make_script(users["writer"], org.district, body="Bản gốc.")
    stale_revision = script.revision
    first, second = login_as("writer"), login_as("writer2")
    first.post(
        f"/scripts/{script.id}/edit",
        data=_form(org, body="Sửa của người thứ nhất.", revision=stale_revision),
    )
    response = second.post(
        f"/scripts/{script.id}/edit",
        data=_form(org, body="Sửa của người thứ hai, rất dài.", revision=stale_revision),
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "vừa được người khác thay đổi" in page
    assert "Sửa của người thứ hai, rất dài." in page
    assert f'name="revision" type="hidden" value="{script.revision}"' in page
    db.session.expire_all()
    assert [v.body for v in script.versions] == ["Bản gốc.", "Sửa của người thứ nhất."]
    resaved = second.post(
        f"/scripts/{script.id}/edit",
        data=_form(org, body="Sửa của người thứ hai, rất dài.", revision=script.revision),
    )
    assert resaved.status_code == 302
    assert script.current_version.body == "Sửa của người thứ hai, rất dài."


def test_writer_cannot_open_or_edit_another_units_script(login_as, users, org):
    script = make_script(users["writer"], org.district, body="Của đơn vị khác.")
    outsider = login_as("outsider")
    for method, url in [
        ("get", f"/scripts/{script.id}"),
        ("get", f"/scripts/{script.id}/edit"),
        ("post", f"/scripts/{script.id}/submit"),
    ]:
        response = getattr(outsider, method)(url)
        assert response.status_code == 404
        assert "nằm ngoài phạm vi đơn vị của bạn" in response.get_data(as_text=True)
    response = outsider.post(f"/scripts/{script.id}/edit", data=_form(org, body="Chiếm quyền."))
    assert response.status_code == 404
    assert script.status == ScriptStatus.DRAFT
    assert [v.body for v in script.versions] == ["Của đơn vị khác."]


def test_writer_cannot_target_units_outside_their_subtree(login_as, org):
    response = login_as("writer").post(
        "/scripts/new", data=_form(org, targets=[org.other_district.id])
    )
    assert response.status_code == 422
    assert db.session.query(Script).count() == 0


def test_approving_own_version_through_the_page_is_refused(login_as, users, org):
    script = make_script(users["supervisor2"], org.district)
    submit(users["supervisor2"], script)
    client = login_as("supervisor2")
    review_page = client.get(f"/scripts/{script.id}/review").get_data(as_text=True)
    assert "không thể tự duyệt" in review_page
    response = client.post(
        f"/scripts/{script.id}/approve",
        data={"version_id": script.current_version_id},
        follow_redirects=True,
    )
    assert "Bạn không thể tự duyệt phiên bản do chính mình viết." in response.get_data(as_text=True)
    assert script.status == ScriptStatus.SUBMITTED


def test_approving_twice_through_the_page_says_so(login_as, users, org):
    script = make_script(users["writer"], org.district)
    submit(users["writer"], script)
    client = login_as("supervisor")
    data = {"version_id": script.current_version_id}
    client.post(f"/scripts/{script.id}/approve", data=data)
    response = client.post(f"/scripts/{script.id}/approve", data=data, follow_redirects=True)
    assert "Phiên bản này đã được duyệt rồi." in response.get_data(as_text=True)
    assert len(script.reviews) == 1


def test_rejecting_without_reason_shows_the_field_error(login_as, users, org):
    script = make_script(users["writer"], org.district)
    submit(users["writer"], script)
    response = login_as("supervisor").post(
        f"/scripts/{script.id}/reject", data={"reason": " ", "version_id": ""}
    )
    assert response.status_code == 422
    assert "Hãy ghi lý do từ chối" in response.get_data(as_text=True)
    assert script.status == ScriptStatus.SUBMITTED


def test_writer_sees_rejection_reason(login_as, users, org):
    script = make_script(users["writer"], org.district)
    submit(users["writer"], script)
    login_as("supervisor").post(
        f"/scripts/{script.id}/reject", data={"reason": "Ghi rõ giờ tiêm tại trạm y tế."}
    )
    page = login_as("writer").get(f"/scripts/{script.id}").get_data(as_text=True)
    assert "Ghi rõ giờ tiêm tại trạm y tế." in page
    assert "Bị từ chối" in page


def test_review_page_shows_changes_since_last_approval(login_as, users, org):
    script = make_script(users["writer"], org.district, body="Tiêm tại trạm y tế.")
    submit(users["writer"], script)
    service.approve_script(users["supervisor"], script)
    data = service.ScriptInput(
        title=script.title,
        body="Tiêm tại nhà văn hóa khu phố.",
        unit=org.district,
        priority=script.priority,
        campaign=script.campaign,
        targets=[org.district],
    )
    service.update_script(users["writer"], script, data, script.revision)
    submit(users["writer"], script)
    page = login_as("supervisor").get(f"/scripts/{script.id}/review").get_data(as_text=True)
    assert "Thay đổi so với bản đã duyệt (phiên bản 1)" in page
    assert "<del>trạm y tế.</del>" in page
    assert "<ins>nhà văn hóa khu phố.</ins>" in page


def test_diff_page_compares_any_two_versions(login_as, users, org):
    script = make_script(users["writer"], org.district, body="một hai ba")
    for body in ["một hai bốn", "năm hai bốn"]:
        data = service.ScriptInput(
            title=script.title,
            body=body,
            unit=org.district,
            priority=script.priority,
            targets=[org.district],
        )
        service.update_script(users["writer"], script, data, script.revision)
    page = login_as("operator").get(f"/scripts/{script.id}/diff?a=1&b=3").get_data(as_text=True)
    assert "So sánh phiên bản 1 và 3" in page
    assert "<del>một </del><ins>năm </ins>hai <del>ba</del><ins>bốn</ins>" in page
    missing = login_as("operator").get(f"/scripts/{script.id}/diff?a=1&b=9")
    assert missing.status_code == 404
    assert "không có phiên bản 9" in missing.get_data(as_text=True)


def test_diff_versions_marks_words():
    assert service.diff_versions("tiêm mũi một", "tiêm mũi hai") == [
        ("equal", "tiêm mũi "),
        ("delete", "một"),
        ("insert", "hai"),
    ]


def _titles(page: str) -> list[str]:
    return re.findall(r'<a href="/scripts/\d+">([^<]+)</a>', page)


def test_search_is_accent_insensitive(login_as, users, org):
    make_script(users["writer"], org.district, title="Lịch tiêm chủng tuần này")
    make_script(
        users["writer"],
        org.district,
        title="Phòng chống sốt xuất huyết",
        body="Diệt lăng quăng, bọ gậy.",
        campaign="",
    )
    client = login_as("writer")
    assert _titles(client.get("/scripts?q=tiem chung").get_data(as_text=True)) == [
        "Lịch tiêm chủng tuần này"
    ]
    assert _titles(client.get("/scripts?q=LANG QUANG").get_data(as_text=True)) == [
        "Phòng chống sốt xuất huyết"
    ]
    assert _titles(client.get("/scripts?q=đợt 6").get_data(as_text=True)) == [
        "Lịch tiêm chủng tuần này"
    ]
    assert _titles(client.get("/scripts?q=100%25").get_data(as_text=True)) == []


def test_list_filters_by_status_campaign_unit_and_priority(login_as, users, org):
    a = make_script(
        users["writer"], org.district, title="A", campaign="Đợt 6", priority=Priority.HIGH
    )
    make_script(users["writer"], org.commune, title="B", campaign="Đợt 7", priority=Priority.NORMAL)
    make_script(
        users["writer"], org.district, title="C", campaign="Đợt 6", priority=Priority.EMERGENCY
    )
    submit(users["writer"], a)
    client = login_as("supervisor")

    def titles(query):
        return sorted(_titles(client.get(f"/scripts?{query}").get_data(as_text=True)))

    assert titles("status=submitted") == ["A"]
    assert titles("campaign=Đợt 6") == ["A", "C"]
    assert titles(f"unit={org.commune.id}") == ["B"]
    assert titles(f"unit={org.district.id}") == ["A", "B", "C"]
    assert titles("priority=emergency") == ["C"]
    assert titles("campaign=Đợt 6&priority=priority") == ["A"]


def test_list_shows_only_the_users_subtree(login_as, users, org):
    make_script(users["writer"], org.district, title="Trong phạm vi")
    make_script(users["outsider"], org.other_district, title="Ngoài phạm vi")
    assert _titles(login_as("writer").get("/scripts").get_data(as_text=True)) == ["Trong phạm vi"]
    assert sorted(_titles(login_as("supervisor").get("/scripts").get_data(as_text=True))) == [
        "Ngoài phạm vi",
        "Trong phạm vi",
    ]


def test_unit_filter_outside_scope_is_refused_with_message(login_as, users, org):
    make_script(users["outsider"], org.other_district, title="Ngoài phạm vi")
    page = login_as("writer").get(f"/scripts?unit={org.other_district.id}").get_data(as_text=True)
    assert "Đơn vị lọc không hợp lệ." in page
    assert "Ngoài phạm vi" not in _titles(page)


def test_list_paginates(app, login_as, users, org):
    app.config["SCRIPTS_PER_PAGE"] = 3
    for i in range(7):
        make_script(users["writer"], org.district, title=f"Kịch bản số {i}")
    client = login_as("writer")
    first = client.get("/scripts").get_data(as_text=True)
    third = client.get("/scripts?page=3").get_data(as_text=True)
    assert len(_titles(first)) == 3
    assert "Trang 1 / 3 (7 mục)" in first
    assert _titles(third) == ["Kịch bản số 0"]


def test_editor_shows_character_count_and_reading_time(login_as, users, org):
    body = " ".join(["tiêm"] * 160)
    script = make_script(users["writer"], org.district, body=body)
    page = login_as("writer").get(f"/scripts/{script.id}/edit").get_data(as_text=True)
    assert '<span id="char-count">799</span>' in page
    assert '<span id="syllable-count">160</span>' in page
    assert '<span id="reading-time">1 phút 0 giây</span>' in page


def test_operator_can_read_but_not_edit(login_as, users, org):
    script = make_script(users["writer"], org.district)
    client = login_as("operator")
    assert script.title in client.get(f"/scripts/{script.id}").get_data(as_text=True)
    response = client.get(f"/scripts/{script.id}/edit")
    assert response.status_code == 403
    assert "không được soạn hoặc sửa" in response.get_data(as_text=True)


def test_times_are_shown_in_vietnam_time(login_as, users, org, clock):
    script = make_script(users["writer"], org.district)
    assert script.created_at.hour == 1
    page = login_as("writer").get(f"/scripts/{script.id}").get_data(as_text=True)
    assert "27/11/2026 08:00" in page


def test_unit_tree_of_any_depth_scopes_scripts(login_as, users, org):
    hamlet = make_unit("KP1", "Khu phố 1", parent=org.commune, level="Khu phố")
    make_script(users["writer"], hamlet, title="Thông báo khu phố")
    assert "Thông báo khu phố" in _titles(login_as("writer").get("/scripts").get_data(as_text=True))


def test_editor_keeps_targets_chosen_above_the_writer(login_as, users, org):
    script = make_script(users["supervisor"], org.district, body="Gốc.")
    script.targets = [org.district, org.other_district]
    db.session.commit()
    client = login_as("writer")
    page = client.get(f"/scripts/{script.id}/edit").get_data(as_text=True)
    assert "Cũng nhận (do cấp trên chọn, giữ nguyên): Thị xã La Gi" in page
    response = client.post(
        f"/scripts/{script.id}/edit",
        data=_form(org, body="Sửa.", targets=[org.district.id], revision=script.revision),
    )
    assert response.status_code == 302
    assert sorted(u.code for u in script.targets) == ["D", "D2"]


@pytest.mark.parametrize("number", ["²", "①", "9" * 30])
def test_ids_in_other_digits_are_read_as_none_not_a_server_error(login_as, users, org, number):
    script = make_script(users["writer"], org.district, title="A", body="Bản gốc.")
    # The list's unit filter: ignored, the whole subtree listed.
    page = login_as("supervisor").get(f"/scripts?unit={number}")
    assert page.status_code == 200 and _titles(page.get_data(as_text=True)) == ["A"]
    # The editor's revision: refused as stale, nothing saved.
    response = login_as("writer2").post(
        f"/scripts/{script.id}/edit", data=_form(org, body="Sửa mới.", revision=number)
    )
    assert response.status_code == 409
    assert "vừa được người khác thay đổi" in response.get_data(as_text=True)
    db.session.expire_all()
    assert [v.body for v in script.versions] == ["Bản gốc."]
    # The reviewer's version: read as none, so the decision is on the current version.
    submit(users["writer"], script)
    response = login_as("supervisor").post(
        f"/scripts/{script.id}/reject", data={"reason": " ", "version_id": number}
    )
    assert response.status_code < 500
    assert db.session.get(Script, script.id).status == ScriptStatus.SUBMITTED
