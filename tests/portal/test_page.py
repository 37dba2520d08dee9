"""The public page of a unit: only approved announcements in their validity, as written, with
the approved audio; no login, cacheable, in Vietnamese."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from app.extensions import db
from app.scripts.service import ScriptInput, update_script
from tests.factories import make_unit
from tests.portal.conftest import TODAY, WRITTEN, text


def test_approved_announcement_in_validity_is_shown_as_written_with_its_audio(client, make, org):
    script = make(
        "approved",
        title="Tiêm vắc xin sởi",
        source_kind="Công văn",
        source_number="855/BCĐ-TBTTTT",
        source_issuer="Ban Chỉ đạo tỉnh",
        valid_from=TODAY - timedelta(days=3),
        valid_until=TODAY + timedelta(days=3),
    )
    response = client.get("/portal/D")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = text(response)
    assert '<html lang="vi">' in page
    assert "Thành phố Phan Thiết" in page
    assert "Tiêm vắc xin sởi" in page
    # The body as written, not the normaliser's spoken form.
    assert WRITTEN in page
    assert "ba mươi tháng tám" not in page
    assert "Công văn 855/BCĐ-TBTTTT" in page and "Ban Chỉ đạo tỉnh" in page
    assert "Duyệt ngày 27/11/2026" in page
    assert "hiệu lực đến 30/11/2026" in page
    src = re.search(r'<audio controls preload="none" src="([^"]+)"', page).group(1)
    assert src == f"/portal/D/audio/{script.approved_render_id}.wav"
    assert 'name="viewport"' in page


@pytest.mark.parametrize(
    ("state", "fields"),
    [
        ("draft", {}),
        ("submitted", {}),
        ("rejected", {}),
        ("archived", {}),
        ("approved", {"valid_until": TODAY - timedelta(days=1)}),
        ("approved", {"valid_from": TODAY + timedelta(days=1)}),
    ],
    ids=["draft", "submitted", "rejected", "archived", "expired", "not-yet-valid"],
)
def test_nothing_but_approved_and_valid_is_shown(client, make, state, fields):
    hidden = make(state, title="Không được hiện", **fields)
    shown = make("approved", title="Được hiện")
    page = text(client.get("/portal/D"))
    feed = text(client.get("/portal/D/feed.xml"))
    assert "Được hiện" in page and "Được hiện" in feed
    assert "Không được hiện" not in page
    assert "Không được hiện" not in feed
    assert f"loa-script-{hidden.id}-" not in feed
    # Not even its audio, under any render it has.
    for render_id in {hidden.submitted_render_id, hidden.approved_render_id} - {None}:
        assert client.get(f"/portal/D/audio/{render_id}.wav").status_code == 404
    assert shown.approved_render_id


def test_an_approved_script_edited_since_leaves_the_page(client, make, users, org):
    script = make("approved", title="Sửa sau khi duyệt")
    assert "Sửa sau khi duyệt" in text(client.get("/portal/D"))
    data = ScriptInput(
        title="Sửa sau khi duyệt", body=script.current_version.body + " Thêm.", unit=org.district
    )
    update_script(users["writer"], script, data, None)
    assert "Sửa sau khi duyệt" not in text(client.get("/portal/D"))
    old = f"/portal/D/audio/{script.approved_render_id}.wav"
    assert client.get(old).status_code == 404


def test_validity_days_are_vietnamese_days_with_open_ends(app, client, make, clock):
    make("approved", title="Hết hạn hôm nay", valid_until=TODAY)
    make("approved", title="Bắt đầu hôm nay", valid_from=TODAY)
    make("approved", title="Không thời hạn")
    # 01:00 on 27/11 in Vietnam is still 26/11 in UTC: the Vietnamese day counts.
    clock.current = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
    page = text(client.get("/portal/D"))
    assert "Bắt đầu hôm nay" in page and "Không thời hạn" in page and "Hết hạn hôm nay" in page
    # 23:59 on 27/11 in Vietnam: still today; one minute later, tomorrow.
    clock.current = datetime(2026, 11, 27, 16, 59, tzinfo=UTC)
    assert "Hết hạn hôm nay" in text(client.get("/portal/D"))
    clock.current = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)
    page = text(client.get("/portal/D"))
    assert "Hết hạn hôm nay" not in page and "Không thời hạn" in page


def test_other_units_announcements_are_not_shown(client, make, users, org):
    make("approved", title="Của La Gi", unit=org.other_district, writer=users["outsider"])
    make("approved", title="Của Phan Thiết")
    page = text(client.get("/portal/D"))
    assert "Của Phan Thiết" in page and "Của La Gi" not in page
    other = text(client.get("/portal/D2"))
    assert "Của La Gi" in other and "Của Phan Thiết" not in other


def test_subunits_are_included_and_targets_bring_announcements_down(client, make, users, org):
    make("approved", title="Của phường", unit=org.commune)
    make("approved", title="Của thành phố cho phường", targets=[org.commune])
    make("approved", title="Của thành phố riêng")
    district = text(client.get("/portal/D"))
    assert "Của phường" in district
    assert "Của thành phố cho phường" in district and "Của thành phố riêng" in district
    commune = text(client.get("/portal/C"))
    assert "Của phường" in commune and "Của thành phố cho phường" in commune
    assert "Của thành phố riêng" not in commune
    # The province sees all of its subtree; an announcement from below names its unit.
    province = text(client.get("/portal/p"))
    assert "Của phường" in province and "Phường Phú Thủy" in province


def test_unknown_or_inactive_unit_is_a_vietnamese_404_linking_nowhere_inside(client, org):
    for path in ("/portal/KHONG-CO", "/portal/KHONG-CO/feed.xml", "/portal/KHONG-CO/audio/1.wav"):
        response = client.get(path)
        assert response.status_code == 404
        page = text(response)
        assert "Không có trang thông tin của đơn vị này." in page
        assert "/login" not in page and "/scripts" not in page
    inactive = make_unit("OLD", "Xã đã sáp nhập", parent=org.district)
    inactive.active = False
    db.session.commit()
    assert client.get("/portal/OLD").status_code == 404
    assert client.get("/portal/" + "X" * 300).status_code == 404


def test_page_leaks_nothing_internal_even_to_a_signed_in_user(app, make, login_as):
    make("approved", title="Công khai")
    make("draft", title="Bản nháp nội bộ")
    anonymous = text(app.test_client().get("/portal/D"))
    signed_in = text(login_as("supervisor").get("/portal/D"))
    for page in (anonymous, signed_in):
        assert "Công khai" in page and "Bản nháp nội bộ" not in page
        for internal in ("/login", "/scripts", "/admin", "Đăng xuất", "csrf", "Người dùng"):
            assert internal not in page
    assert anonymous == signed_in


def test_page_is_cacheable_with_etag_last_modified_and_304(client, make, clock):
    make("approved", title="Lưu đệm")
    first = client.get("/portal/D")
    assert first.headers["Cache-Control"] in {"public, max-age=300", "max-age=300, public"}
    etag = first.headers["ETag"]
    assert etag and first.headers["Last-Modified"]
    again = client.get("/portal/D", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""
    since = client.get("/portal/D", headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert since.status_code == 304
    # A new approval changes the page, its ETag and its Last-Modified.
    clock.advance(minutes=10)
    make("approved", title="Mới duyệt")
    changed = client.get("/portal/D", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert "Mới duyệt" in text(changed)
    assert changed.headers["ETag"] != etag
    assert changed.last_modified > first.last_modified


def test_empty_portal_says_so_in_vietnamese(client, org):
    page = text(client.get("/portal/D"))
    assert "Hiện chưa có thông báo nào đang còn hiệu lực." in page
