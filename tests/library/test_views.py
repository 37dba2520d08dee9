"""Library pages: upload with its messages, the list and search, the player's audio, edit,
archive, an upload over the server's limit, CSRF, and who may do what."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.library import service
from app.library.models import LibraryItem, LibraryKind
from tests.conftest import build_test_app
from tests.library.test_service import add, nothing_stored


def upload(client, path, **fields):
    """Post the upload form with a file."""
    data = {"title": "Nhạc hiệu buổi sáng", "kind": "jingle", "licence_note": "", **fields}
    with open(path, "rb") as handle:
        data["file"] = (handle, path.name)
        return client.post("/library/new", data=data, content_type="multipart/form-data")


def page(response) -> str:
    return response.get_data(as_text=True)


def test_a_writer_uploads_a_jingle_and_sees_its_measures_and_player(app, login_as, sounds):
    client = login_as("writer")
    response = upload(client, sounds["jingle"], licence_note="Đài tự sản xuất")
    assert response.status_code == 302
    item = db.session.scalar(select(LibraryItem))
    assert response.headers["Location"].endswith(f"/library/{item.id}")
    shown = page(client.get(f"/library/{item.id}"))
    assert "Đã thêm “Nhạc hiệu buổi sáng” vào thư viện." in shown
    assert f'<audio controls preload="metadata" src="/library/{item.id}/audio">' in shown
    assert "LUFS" in shown and "Đài tự sản xuất" in shown and "nhac-hieu.wav" in shown
    assert "Đã cắt khoảng lặng" in shown


def test_warnings_about_the_original_are_shown_with_their_measures(app, login_as, sounds):
    client = login_as("writer")
    response = upload(client, sounds["clipped"], title="Méo")
    shown = page(client.get(response.headers["Location"]))
    assert "Bản ghi bị méo (clipping)" in shown and "dBFS" in shown


def test_the_same_file_again_opens_the_item_already_there(app, login_as, users, sounds):
    item = add(users["writer"], sounds["jingle"]).item
    client = login_as("operator")
    response = upload(client, sounds["jingle"], title="Khác")
    assert response.headers["Location"].endswith(f"/library/{item.id}")
    assert "Không lưu thêm bản nào" in page(client.get(response.headers["Location"]))
    assert db.session.scalar(select(func.count()).select_from(LibraryItem)) == 1


@pytest.mark.parametrize(
    ("sound", "fields", "status", "message"),
    [
        ("text_as_mp3", {}, 422, "không phải tệp âm thanh đọc được"),
        ("silent", {}, 422, "không có tiếng"),
        ("jingle", {"title": ""}, 422, "Hãy nhập tên mục."),
        ("jingle", {"kind": "podcast"}, 422, "Loại không hợp lệ"),
    ],
)
def test_bad_uploads_are_refused_on_the_page_and_store_nothing(
    app, login_as, sounds, sound, fields, status, message
):
    response = upload(login_as("writer"), sounds[sound], **fields)
    assert response.status_code == status
    assert message in page(response)
    assert nothing_stored()


def test_an_upload_for_a_unit_outside_ones_branch_is_refused(app, login_as, org, sounds):
    response = upload(login_as("writer"), sounds["jingle"], unit_id=str(org.other_district.id))
    assert response.status_code == 422
    assert "nằm ngoài phạm vi" in page(response)
    assert nothing_stored()


def test_an_upload_over_the_servers_limit_gets_its_own_message(app, login_as, sounds):
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    response = upload(login_as("writer"), sounds["jingle"])
    assert response.status_code == 413
    assert "Tệp quá lớn" in page(response) and "tối đa 64 KB" in page(response)
    assert nothing_stored()


def test_the_list_finds_an_item_without_accents_and_hides_archived_ones(
    app, login_as, users, sounds
):
    item = add(users["writer"], sounds["jingle"], title="Nhạc hiệu Đài Phú Thủy").item
    add(users["writer"], sounds["bed"], title="Nền nhẹ", kind=LibraryKind.BED)
    client = login_as("supervisor")
    found = page(client.get("/library/?q=phu+thuy"))
    assert "Nhạc hiệu Đài Phú Thủy" in found and "Nền nhẹ" not in found
    assert "Nền nhẹ" in page(client.get("/library/?kind=bed"))
    service.set_archived(users["writer"], item, True)
    assert "Nhạc hiệu Đài Phú Thủy" not in page(client.get("/library/"))
    assert "Nhạc hiệu Đài Phú Thủy" in page(client.get("/library/?archived=1"))


def test_the_audio_plays_in_ranges_as_a_player_asks(app, login_as, users, sounds):
    item = add(users["writer"], sounds["jingle"]).item
    client = login_as("supervisor")
    with client.get(f"/library/{item.id}/audio") as whole:
        assert whole.status_code == 200 and whole.mimetype == "audio/mpeg"
        assert whole.data == service.audio_path(item).read_bytes()
        assert "private" in whole.headers["Cache-Control"]
    with client.get(f"/library/{item.id}/audio", headers={"Range": "bytes=0-99"}) as part:
        assert part.status_code == 206 and len(part.data) == 100
    with client.get(f"/library/{item.id}/original") as original:
        assert original.data == sounds["jingle"].read_bytes()


def test_edit_and_archive_from_the_pages(app, login_as, users, sounds):
    item = add(users["writer"], sounds["jingle"]).item
    client = login_as("operator")
    form = page(client.get(f"/library/{item.id}/edit"))
    assert 'name="revision"' in form
    response = client.post(
        f"/library/{item.id}/edit",
        data={"title": "Nhận diện đài", "kind": "ident", "licence_note": "", "revision": "1"},
    )
    assert response.status_code == 302
    assert (item.title, item.kind) == ("Nhận diện đài", LibraryKind.IDENT)
    stale = client.post(
        f"/library/{item.id}/edit",
        data={"title": "Cũ", "kind": "ident", "licence_note": "", "revision": "1"},
    )
    assert stale.status_code == 409 and "vừa được người khác sửa" in page(stale)
    assert client.post(f"/library/{item.id}/archive").status_code == 302
    assert item.archived
    assert "Khôi phục" in page(client.get(f"/library/{item.id}"))


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("writer", True), ("operator", True), ("admin", True), ("supervisor", False)],
)
def test_who_may_add_edit_and_archive(app, login_as, users, sounds, role, allowed):
    item = add(users["writer"], sounds["jingle"]).item
    client = login_as(role)
    expected = 200 if allowed else 403
    assert client.get("/library/new").status_code == expected
    assert client.get(f"/library/{item.id}/edit").status_code == expected
    assert client.post(f"/library/{item.id}/archive").status_code == (302 if allowed else 403)
    assert client.get(f"/library/{item.id}").status_code == 200
    assert ("+ Thêm tệp âm thanh" in page(client.get("/library/"))) is allowed
    assert item.archived is allowed


def test_other_branches_do_not_see_the_item(app, login_as, users, sounds):
    item = add(users["writer"], sounds["jingle"]).item
    client = login_as("outsider")
    for url in (f"/library/{item.id}", f"/library/{item.id}/audio", f"/library/{item.id}/edit"):
        with client.get(url) as response:
            assert response.status_code == 404
    assert client.post(f"/library/{item.id}/archive").status_code == 404
    assert "Nhạc hiệu buổi sáng" not in page(client.get("/library/"))
    assert not item.archived


def test_forms_need_their_csrf_token(tmp_path, clock, sounds):
    from tests.factories import make_unit, make_user

    app = build_test_app(tmp_path, clock, WTF_CSRF_ENABLED=True)
    with app.app_context():
        unit = make_unit("D", "Phan Thiết")
        make_user(unit, username="writer")
        client = app.test_client()
        token_page = page(client.get("/login"))
        token = token_page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        client.post(
            "/login",
            data={"username": "writer", "password": "correct-horse-battery", "csrf_token": token},
        )
        response = upload(client, sounds["jingle"])
        assert response.status_code == 400 and "CSRF" in page(response)
        assert nothing_stored()
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize("unit", ["²", "①", "9" * 30])
def test_a_unit_filter_in_other_digits_is_ignored_not_a_server_error(
    app, login_as, users, sounds, unit
):
    add(users["writer"], sounds["jingle"], title="Nhạc hiệu Đài Phú Thủy")
    response = login_as("supervisor").get(f"/library/?unit={unit}")
    assert response.status_code == 200
    assert "Nhạc hiệu Đài Phú Thủy" in page(response)
