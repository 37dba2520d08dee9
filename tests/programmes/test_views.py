"""Programme pages through Flask's test client: the editor's rundown buttons, the total against
the session, every refusal on save (with nothing stored), the programme page with its mix,
submit and review, roles and scope, and CSRF."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.auth.models import Role
from app.extensions import db
from app.library.models import LibraryKind
from app.programmes import service
from app.programmes.models import ProgrammeItem, ProgrammeVersion
from app.scripts.models import Script, ScriptStatus, ScriptVersion
from app.speech import service as speech
from app.speech.models import Render
from tests.conftest import build_test_app
from tests.factories import PASSWORD, make_unit, make_user
from tests.programmes.conftest import entry, library_item, tone_spot


def stored() -> tuple[int, ...]:
    """Scripts, versions, rundowns and rundown items in the database."""
    return tuple(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (Script, ScriptVersion, ProgrammeVersion, ProgrammeItem)
    )


def rundown_form(rows, op="save", **fields) -> dict:
    """The editor's posted fields: rows of (kind, id, gap seconds, cross-fade seconds)."""
    data = {
        "title": "Chương trình sáng thứ Bảy",
        "session": "",
        "bed_item_id": "",
        "duck_db": "15",
        "q": "",
        "count": str(len(rows)),
        "op": op,
    }
    for i, (kind, ref, gap, fade) in enumerate(rows):
        data |= {f"kind-{i}": kind, f"ref-{i}": str(ref), f"gap-{i}": gap, f"fade-{i}": fade}
    return data | fields


def posted_rows(page: str) -> list[tuple[str, str]]:
    """The (kind, id) of each rundown row the editor sent back, in order."""
    kinds = re.findall(r'name="kind-(\d+)" value="([^"]*)"', page)
    refs = dict(re.findall(r'name="ref-(\d+)" value="([^"]*)"', page))
    return [(kind, refs[i]) for i, kind in kinds]


@pytest.fixture
def writer(login_as):
    """The district's writer, logged in."""
    return login_as("writer")


def test_the_navigation_offers_programmes_to_those_who_write(login_as):
    assert "Chương trình</a>" in login_as("writer").get("/scripts").get_data(as_text=True)
    assert "Chương trình</a>" in login_as("supervisor").get("/scripts").get_data(as_text=True)
    operator = login_as("operator")
    assert "Chương trình</a>" not in operator.get("/scripts").get_data(as_text=True)
    assert operator.get("/programmes/new").status_code == 403
    assert operator.post("/programmes/new", data=rundown_form([])).status_code == 403


def test_the_editor_adds_moves_and_removes_items_without_storing(writer, items, users, org):
    spot = tone_spot(users, org.district, title="Thông báo lịch tiêm chủng")
    page = writer.get("/programmes/new").get_data(as_text=True)
    assert "Thông báo lịch tiêm chủng" in page and "Nhạc hiệu đài" in page
    assert 'name="csrf_token"' in page
    before = stored()
    rows = [("library", items["jingle"].id, "0,5", "0")]
    page = writer.post(
        "/programmes/new", data=rundown_form(rows, op=f"add:script:{spot.id}")
    ).get_data(as_text=True)
    assert posted_rows(page) == [("library", str(items["jingle"].id)), ("script", str(spot.id))]
    assert 'value="0,5"' in page  # the gap typed is kept
    rows = [("library", items["jingle"].id, "0", "0"), ("script", spot.id, "0", "0")]
    page = writer.post("/programmes/new", data=rundown_form(rows, op="up:1")).get_data(as_text=True)
    assert posted_rows(page) == [("script", str(spot.id)), ("library", str(items["jingle"].id))]
    page = writer.post("/programmes/new", data=rundown_form(rows, op="down:0")).get_data(
        as_text=True
    )
    assert posted_rows(page)[0] == ("script", str(spot.id))
    page = writer.post("/programmes/new", data=rundown_form(rows, op="remove:0")).get_data(
        as_text=True
    )
    assert posted_rows(page) == [("script", str(spot.id))]
    # A garbled post is shown back, never a server error.
    for count in ("zzz", "-5", "99999999", "²", "①"):
        garbled = writer.post("/programmes/new", data=rundown_form(rows, op="up:1", count=count))
        assert garbled.status_code == 200, count
    # Moves past either end, unknown buttons and ids in other digits change nothing.
    for op in ("add:script:²", "add:library:①"):
        response = writer.post("/programmes/new", data=rundown_form(rows, op=op))
        assert response.status_code == 200, op
        assert len(posted_rows(response.get_data(as_text=True))) == 2, op
    ops = ("up:0", "down:1", "remove:9", "up:x", "add:video:1", "nonsense", "up:²", "remove:①")
    for op in ops:
        page = writer.post("/programmes/new", data=rundown_form(rows, op=op)).get_data(as_text=True)
        assert len(posted_rows(page)) == 2, op
    assert stored() == before


def test_the_search_finds_approved_spots_and_library_items_without_accents(
    writer, items, users, org
):
    tone_spot(users, org.district, title="Thông báo lịch tiêm chủng")
    make_draft = service.scripts.create_script
    make_draft(
        users["writer"],
        service.scripts.ScriptInput(title="Bản nháp tiêm chủng", body="Nháp.", unit=org.district),
    )
    page = writer.post("/programmes/new", data=rundown_form([], op="search", q="tiem chung"))
    text = page.get_data(as_text=True)
    assert "Thông báo lịch tiêm chủng" in text
    assert "Bản nháp tiêm chủng" not in text  # only approved scripts can be added
    assert "Nhạc hiệu đài" not in text
    text = writer.post(
        "/programmes/new", data=rundown_form([], op="search", q="nhac hieu")
    ).get_data(as_text=True)
    assert "Nhạc hiệu đài" in text
    # A search of any length is cut to the field's 200 characters, never an error.
    long = writer.post("/programmes/new", data=rundown_form([], op="search", q="tiem " * 2000))
    assert long.status_code == 200


def test_the_editor_shows_the_total_against_the_session(writer, items, station):
    ident = items["ident"].id
    rows = [("library", ident, "9", "0")] * 7 + [("library", ident, "0", "0")]
    page = writer.post(
        "/programmes/new",
        data=rundown_form(rows, op="refresh", session=f"{station.id}:Bản tin ngắn"),
    ).get_data(as_text=True)
    assert "Tổng thời lượng: <strong>1:14</strong>" in page
    assert "buổi “Bản tin ngắn” của Đài Truyền thanh Phan Thiết: <strong>1:00</strong>" in page
    assert "vượt 0:14" in page
    page = writer.post(
        "/programmes/new",
        data=rundown_form(rows[:2], op="refresh", session=f"{station.id}:Buổi sáng"),
    ).get_data(as_text=True)
    assert "/ buổi “Buổi sáng”" in page and "<strong>15:00</strong>" in page and "còn 14:" in page
    before = stored()
    refused = writer.post(
        "/programmes/new", data=rundown_form(rows, session=f"{station.id}:Bản tin ngắn")
    )
    assert refused.status_code == 422
    assert "vượt thời lượng buổi “Bản tin ngắn”" in refused.get_data(as_text=True)
    assert stored() == before


def test_saving_stores_the_rundown_and_shows_the_programme(writer, items, station, users, org):
    spot = tone_spot(users, org.district, title="Thông báo lịch tiêm chủng")
    rows = [
        ("library", items["jingle"].id, "1,5", "0"),
        ("script", spot.id, "0", "0"),
        ("library", items["ident"].id, "0", "0"),
    ]
    response = writer.post(
        "/programmes/new",
        data=rundown_form(
            rows,
            session=f"{station.id}:Buổi sáng",
            bed_item_id=str(items["bed"].id),
            duck_db="12,5",
        ),
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    script = db.session.scalars(select(Script).where(Script.kind == "programme")).one()
    assert response.headers["Location"].endswith(f"/programmes/{script.id}")
    settings = service.version_settings(script.current_version_id)
    assert [(i.title, i.gap_ms) for i in settings.items] == [
        ("Nhạc hiệu đài", 1500),
        ("Thông báo lịch tiêm chủng", 0),
        ("Nhận diện đài", 0),
    ]
    assert (settings.bed_item_id, settings.duck_db, settings.session_name) == (
        items["bed"].id,
        12.5,
        "Buổi sáng",
    )
    page = writer.get(f"/programmes/{script.id}").get_data(as_text=True)
    # Each item's start: the jingle (1,85 s) and its 1,5 s gap put the spot at 0:03,4.
    assert "0:00,0" in page and "0:03,4" in page
    assert "nghỉ 1,5 giây" in page and "giảm 12,5 dB" in page
    assert "Trộn chương trình" in page and "Chưa có bản trộn" in page
    listing = writer.get("/programmes/").get_data(as_text=True)
    assert script.title in listing and "Buổi sáng · Đài Truyền thanh Phan Thiết" in listing
    # The script desk sends a programme to its own pages.
    assert (
        writer.get(f"/scripts/{script.id}").headers["Location"].endswith(f"/programmes/{script.id}")
    )
    assert (
        writer.get(f"/scripts/{script.id}/edit")
        .headers["Location"]
        .endswith(f"/programmes/{script.id}/edit")
    )
    # The editor opens on the stored rundown.
    page = writer.get(f"/programmes/{script.id}/edit").get_data(as_text=True)
    assert posted_rows(page) == [(k, str(r)) for k, r, _, _ in rows]
    assert 'value="1,5"' in page and 'value="12,5"' in page


def _refusals(users, items, station, org, tones):
    """(case, rows, other fields, the message the page must show)."""
    foreign = library_item(
        users["outsider"], tones["jingle"], "Nhạc hiệu La Gi", LibraryKind.JINGLE
    )
    jingle, ident = items["jingle"].id, items["ident"].id
    two = lambda gap, fade: [("library", jingle, gap, fade), ("library", ident, "0", "0")]  # noqa: E731
    return [
        ("no items", [], {}, "Chương trình chưa có mục nào"),
        ("no title", two("0", "0"), {"title": " "}, "Hãy nhập tên chương trình"),
        ("title too long", two("0", "0"), {"title": "x" * 301}, "Tối đa 300 ký tự"),
        ("gap not a number", two("abc", "0"), {}, "phải là số giây (ví dụ 1,5)"),
        ("negative gap", two("-1", "0"), {}, "khoảng nghỉ phải từ 0 đến 10 giây"),
        ("oversized gap", two("11", "0"), {}, "khoảng nghỉ phải từ 0 đến 10 giây"),
        ("oversized cross-fade", two("0", "6"), {}, "chuyển tiếp chồng phải từ 0 đến 5 giây"),
        ("both", two("1", "0,2"), {}, "không chọn cả hai"),
        ("cross-fade longer than an item", two("0", "1"), {}, "tối đa một nửa độ dài"),
        ("an item out of scope", [("library", foreign.id, "0", "0")], {}, "không tìm thấy mục"),
        ("a missing script", [("script", 99999, "0", "0")], {}, "không tìm thấy kịch bản"),
        ("a bad id", [("library", "1x", "0", "0")], {}, "mục không hợp lệ"),
        ("a huge id", [("library", "9" * 30, "0", "0")], {}, "mục không hợp lệ"),
        # str.isdigit() holds for these, and int() refuses them: they must not be a 500.
        ("a superscript id", [("library", "²", "0", "0")], {}, "mục không hợp lệ"),
        ("a circled id", [("script", "①", "0", "0")], {}, "mục không hợp lệ"),
        ("a superscript bed id", two("0", "0"), {"bed_item_id": "²"},
         "Nhạc nền đã chọn không hợp lệ"),
        ("a superscript station id", two("0", "0"), {"session": "²:Buổi sáng"},
         "Buổi phát đã chọn không hợp lệ"),
        ("a huge gap", two("1e400", "0"), {}, "phải là số giây"),
        ("a bed that is not a bed", two("0", "0"), {"bed_item_id": str(jingle)},
         "không phải nhạc nền"),
        ("a bed id that is not a number", two("0", "0"), {"bed_item_id": "abc"},
         "Nhạc nền đã chọn không hợp lệ"),
        ("ducking not a number", two("0", "0"), {"duck_db": "nhiều"}, "phải là số dB"),
        ("ducking out of range", two("0", "0"), {"duck_db": "50"}, "từ 3 đến 40 dB"),
        ("a session that is not one", two("0", "0"), {"session": "abc"},
         "Buổi phát đã chọn không hợp lệ"),
        ("a session the station lacks", two("0", "0"), {"session": f"{station.id}:Buổi trưa"},
         "không có buổi phát “Buổi trưa”"),
        ("a station that does not exist", two("0", "0"), {"session": "99999:Buổi sáng"},
         "không tồn tại hoặc nằm ngoài phạm vi"),
        ("a huge station id", two("0", "0"), {"session": "9" * 30 + ":Buổi sáng"},
         "Buổi phát đã chọn không hợp lệ"),
    ]  # fmt: skip


def test_every_refusal_on_save_shows_its_message_and_stores_nothing(
    writer, users, items, station, org, tones
):
    cases = _refusals(users, items, station, org, tones)
    before = stored()
    for case, rows, fields, message in cases:
        response = writer.post("/programmes/new", data=rundown_form(rows, **fields))
        assert response.status_code == 422, case
        page = response.get_data(as_text=True)
        assert message in page, (case, re.findall(r'flash-error" role="alert">([^<]*)', page))
        assert "built-in method" not in page and "Undefined" not in page, case
        assert stored() == before, case
    # Editing an existing programme refuses the same way and keeps its version.
    script = service.create_programme(
        users["writer"],
        service.ProgrammeInput(
            title="Chương trình có sẵn",
            unit=org.district,
            items=[entry("library", items["jingle"])],
        ),
    )
    before = stored()
    for case, rows, fields, message in cases:
        data = rundown_form(rows, revision=str(script.revision), **fields)
        response = writer.post(f"/programmes/{script.id}/edit", data=data)
        assert response.status_code == 422, case
        assert message in response.get_data(as_text=True), case
        assert stored() == before, case
    stale = writer.post(
        f"/programmes/{script.id}/edit",
        data=rundown_form([("library", items["ident"].id, "0", "0")], revision="0"),
    )
    assert stale.status_code == 409
    assert "vừa được người khác thay đổi" in stale.get_data(as_text=True)
    assert stored() == before
    for revision in ("²", "①", "9" * 30):
        data = rundown_form([("library", items["ident"].id, "0", "0")], revision=revision)
        response = writer.post(f"/programmes/{script.id}/edit", data=data)
        assert response.status_code == 409, revision
        assert "vừa được người khác thay đổi" in response.get_data(as_text=True), revision
        assert stored() == before, revision


def test_mix_submit_review_and_approve_through_the_pages(login_as, items, station, users, org):
    writer = login_as("writer")
    rows = [("library", items["jingle"].id, "1", "0"), ("library", items["ident"].id, "0", "0")]
    data = rundown_form(rows, session=f"{station.id}:Buổi sáng", bed_item_id=str(items["bed"].id))
    writer.post("/programmes/new", data=data)
    script = db.session.scalars(select(Script).where(Script.kind == "programme")).one()
    # Submitting before mixing is refused with the reason.
    response = writer.post(f"/programmes/{script.id}/submit", follow_redirects=True)
    assert "Chưa có âm thanh hoàn tất" in response.get_data(as_text=True)
    response = writer.post(f"/programmes/{script.id}/mix", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Đã xếp hàng trộn chương trình" in page and "render-progress" in page
    while speech.process_next_render() is not None:
        pass
    db.session.expire_all()
    mix = speech.latest_done_render(script)
    page = writer.get(f"/programmes/{script.id}").get_data(as_text=True)
    assert f"/renders/{mix.id}/audio" in page and "Bản trộn chương trình do" in page
    assert "LUFS" in page and mix.audio_sha256[:12] in page
    audio = writer.get(f"/renders/{mix.id}/audio")
    assert audio.status_code == 200 and audio.mimetype == "audio/mpeg"
    audio.close()
    response = writer.post(f"/programmes/{script.id}/submit", follow_redirects=True)
    assert "Đã gửi duyệt phiên bản 1" in response.get_data(as_text=True)
    assert db.session.get(Script, script.id).status == ScriptStatus.SUBMITTED
    # While it waits, the rundown cannot be changed nor mixed again.
    assert writer.get(f"/programmes/{script.id}/edit").status_code == 302
    response = writer.post(f"/programmes/{script.id}/mix", follow_redirects=True)
    assert "đang chờ duyệt" in response.get_data(as_text=True)

    supervisor = login_as("supervisor")
    review = supervisor.get(f"/scripts/{script.id}/review").get_data(as_text=True)
    settings = service.version_settings(script.current_version_id)
    assert "Bạn duyệt đúng danh sách mục này" in review
    assert settings.rundown_sha256[:12] in review and mix.audio_sha256[:12] in review
    assert "Nhạc hiệu đài" in review and "Nhận diện đài" in review and "nghỉ 1 giây" in review
    response = supervisor.post(
        f"/scripts/{script.id}/approve", data={"version_id": str(script.current_version_id)}
    )
    assert response.status_code == 302
    assert db.session.get(Script, script.id).approved_render_id == mix.id
    # Approved, it keeps that mix: the page offers no second one and a posted one is refused.
    writer = login_as("writer")
    page = writer.get(f"/programmes/{script.id}").get_data(as_text=True)
    assert f"/renders/{mix.id}/audio" in page and "Trộn chương trình</button>" not in page
    renders = db.session.scalar(select(func.count(Render.id)))
    response = writer.post(f"/programmes/{script.id}/mix", follow_redirects=True)
    assert "đã được duyệt cùng bản trộn này" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Render.id))) == renders
    operator = login_as("operator")
    page = operator.get(f"/programmes/{script.id}").get_data(as_text=True)
    assert "Lập lịch phát" in page and "Gửi duyệt" not in page


def test_other_units_and_other_scripts_get_not_found(login_as, items, users, org):
    script = service.create_programme(
        users["writer"],
        service.ProgrammeInput(
            title="Chương trình", unit=org.district, items=[entry("library", items["jingle"])]
        ),
    )
    outsider = login_as("outsider")
    for url in (f"/programmes/{script.id}", f"/programmes/{script.id}/edit"):
        assert outsider.get(url).status_code == 404
    assert outsider.post(f"/programmes/{script.id}/mix").status_code == 404
    assert outsider.post(f"/programmes/{script.id}/submit").status_code == 404
    spot = tone_spot(users, org.district)
    assert login_as("writer").get(f"/programmes/{spot.id}").status_code == 404
    assert login_as("writer").get("/programmes/999999").status_code == 404


@pytest.fixture
def csrf_app(tmp_path, clock):
    """An app with CSRF checks on, as in production."""
    app = build_test_app(tmp_path, clock, WTF_CSRF_ENABLED=True)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def _token(page: str) -> str:
    return re.search(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"', page).group(1)


def test_every_programme_form_needs_its_csrf_token(csrf_app, tones):
    district = make_unit("D", "Thành phố Phan Thiết")
    writer = make_user(district, Role.WRITER, "writer")
    jingle = library_item(writer, tones["jingle"], "Nhạc hiệu", LibraryKind.JINGLE)
    client = csrf_app.test_client()
    token = _token(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"username": "writer", "password": PASSWORD, "csrf_token": token})
    data = rundown_form([("library", jingle.id, "0", "0")])
    before = stored()
    assert client.post("/programmes/new", data=data).status_code == 400
    assert client.post("/programmes/new", data=data | {"csrf_token": "forged"}).status_code == 400
    assert stored() == before
    token = _token(client.get("/programmes/new").get_data(as_text=True))
    assert client.post("/programmes/new", data=data | {"csrf_token": token}).status_code == 302
    script = db.session.scalars(select(Script).where(Script.kind == "programme")).one()
    assert client.post(f"/programmes/{script.id}/mix").status_code == 400
    assert client.post(f"/programmes/{script.id}/submit").status_code == 400
    assert speech.latest_done_render(script) is None
