"""The dispatch desk through its pages: intake and the kept original, confirming the fields,
search, drafts from a dispatch, and who may do what."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import date

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.auth.models import User
from app.dispatches import service
from app.dispatches.models import Dispatch, DispatchStatus
from app.extensions import db
from app.org.models import Unit
from app.scripts.models import Priority, Script, ScriptStatus
from tests.dispatches.render import render_pdf, seed_text
from tests.factories import make_station, make_unit

SEED_SUBJECT = (
    "đẩy mạnh truyền thông chiến dịch tiêm vắc xin và cài đặt Sổ sức khỏe điện tử để theo dõi "
    "tiêm vắc xin phòng Covid-19"
)


@pytest.fixture(scope="module")
def seed_pdf() -> bytes:
    return render_pdf(seed_text())


def upload(client, data: bytes, name: str = "cong-van-855.pdf", **extra):
    """Post a file to the intake page."""
    return client.post(
        "/dispatches/new",
        data={"file": (io.BytesIO(data), name), **extra},
        content_type="multipart/form-data",
    )


def paste(client, text: str):
    """Post pasted text to the intake page."""
    return client.post("/dispatches/new", data={"text": text})


def stored_files(app) -> list[str]:
    """Names in the originals folder (none when it was never made)."""
    folder = service.originals_dir()
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def dispatch_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Dispatch))


def text_of(response) -> str:
    """A page's text with tags removed and spaces collapsed (for reading messages)."""
    html = response.get_data(as_text=True)
    html = re.sub(r"<[^>]+>", " ", html)
    return " ".join(html.replace("&#34;", '"').replace("&#39;", "'").split())


def confirm_data(d: Dispatch, **changes) -> dict:
    """The confirm form as the page fills it, with changes."""
    data = {
        "parent_issuer": d.parent_issuer,
        "issuer": d.issuer,
        "kind": d.kind,
        "number": str(d.number or ""),
        "code": d.code,
        "place": d.place,
        "issued_on": d.issued_on.isoformat() if d.issued_on else "",
        "subject": d.subject,
        "urgency": d.urgency,
        "secrecy": d.secrecy,
        "addressees": "\n".join(d.addressees),
        "distribution": "\n".join(d.distribution),
        "signer_title": d.signer_title,
        "signer_name": d.signer_name,
        "campaign": d.campaign,
        "valid_from": d.valid_from.isoformat() if d.valid_from else "",
        "valid_until": "",
        "report_due": "",
        "revision": str(d.revision),
    }
    for i, c in enumerate(d.cites):
        data.update(
            {
                f"cites-{i}-kind": c["kind"],
                f"cites-{i}-number": str(c["number"]),
                f"cites-{i}-code": c["code"],
                f"cites-{i}-date": c["date"] or "",
                f"cites-{i}-issuer": c["issuer"] or "",
            }
        )
    for i, c in enumerate(d.contacts):
        data.update(
            {
                f"contacts-{i}-type": c["type"],
                f"contacts-{i}-value": c["value"],
                f"contacts-{i}-name": c["name"] or "",
            }
        )
    data.update(changes)
    return data


def make_confirmed_dispatch(
    writer: User, targets: list[Unit] | None = None, *, drafts: int = 2
) -> tuple[Dispatch, list[Script]]:
    """The seed received from its PDF and confirmed by `writer` (targets: the writer's unit
    unless given), with `drafts` drafts made from its first dashed points. For other tests
    (tracking, the report back) that start from a confirmed dispatch and its scripts."""
    received = service.receive_dispatch(
        writer, data=render_pdf(seed_text()), filename="cong-van-855.pdf"
    )
    d = received.dispatch
    data = service.DispatchInput(
        number=d.number,
        code=d.code,
        kind=d.kind,
        issuer=d.issuer,
        parent_issuer=d.parent_issuer,
        place=d.place,
        issued_on=d.issued_on,
        subject=d.subject,
        urgency=d.urgency,
        addressees=list(d.addressees),
        distribution=list(d.distribution),
        signer_title=d.signer_title,
        signer_name=d.signer_name,
        cites=list(d.cites),
        contacts=list(d.contacts),
        deadlines=list(d.deadlines),
        campaign=d.campaign,
        valid_from=d.valid_from,
        valid_until=d.valid_until,
        report_due=d.report_due,
        targets=targets if targets is not None else [writer.unit],
    )
    service.confirm_dispatch(writer, d, data, d.revision)
    dashed = [i for i, p in enumerate(d.points) if p["level"] == 1][:drafts]
    scripts = service.make_drafts(writer, d, points=dashed) if dashed else []
    return d, scripts


# --- Intake -------------------------------------------------------------------------------


def test_uploaded_pdf_is_kept_read_and_opens_the_confirm_page(app, login_as, users, seed_pdf):
    client = login_as("writer")
    response = upload(client, seed_pdf)
    assert response.status_code == 302
    d = db.session.scalar(select(Dispatch))
    assert response.headers["Location"].endswith(f"/dispatches/{d.id}/confirm")
    assert d.status == DispatchStatus.RECEIVED
    assert d.unit_id == users["writer"].unit_id
    assert (d.number, d.code, d.kind) == (855, "BCĐ-TBTTTT", "Công văn")
    assert d.issuer == "TIỂU BAN THÔNG TIN TUYÊN TRUYỀN"
    assert d.parent_issuer == "BCĐ PHÒNG CHỐNG DỊCH COVID-19 TỈNH BÌNH THUẬN"
    assert (d.place, d.issued_on, d.urgency) == ("Bình Thuận", date(2021, 8, 30), "HỎA TỐC")
    assert d.subject == SEED_SUBJECT
    assert d.addressees[0] == "Ủy ban MTTQVN tỉnh"
    assert "Đài Truyền thanh thành phố Phan Thiết" in d.distribution
    assert (d.signer_name, d.signer_title) == (
        "Dương Tự",
        "TRƯỞNG TIỂU BAN / PHÓ GIÁM ĐỐC SỞ TT VÀ TT",
    )
    assert d.cites[0] == {
        "kind": "kế hoạch",
        "number": 1286,
        "code": "KH-UBND",
        "date": "2021-04-16",
        "issuer": "Ủy ban Nhân dân tỉnh Bình Thuận",
    }
    assert {"type": "phone", "value": "0937938383", "text": "0937 93 83 83"}.items() <= (
        d.contacts[1].items()
    )
    assert len(d.points) == 8 and d.points[2]["label"] == "-"
    # The original, content-addressed and byte for byte, with what it is.
    sha = hashlib.sha256(seed_pdf).hexdigest()
    assert (d.sha256, d.size, d.pages, d.ocr) == (sha, len(seed_pdf), 3, False)
    assert (d.file_name, d.file_kind, d.media_type) == (
        "cong-van-855.pdf",
        "pdf",
        "application/pdf",
    )
    assert (service.originals_dir() / sha).read_bytes() == seed_pdf
    assert stored_files(app) == [sha]
    assert d.received_by_id == users["writer"].id
    assert "Thực hiện Kế hoạch số 1286/KH-UBND" in d.text
    assert "so suc khoe dien tu" in d.search_text
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "dispatch.receive"))
    assert event.object_id == d.id and event.details["sha256"] == sha


def test_pasted_text_is_kept_as_a_text_original(app, login_as):
    client = login_as("writer")
    response = paste(client, seed_text())
    assert response.status_code == 302
    d = db.session.scalar(select(Dispatch))
    assert (d.file_kind, d.media_type, d.number) == ("text", "text/plain; charset=utf-8", 855)
    assert d.file_name == "van-ban-dan.txt"
    assert (service.originals_dir() / d.sha256).read_text("utf-8").lstrip().startswith("BCĐ PHÒNG")


def test_duplicate_upload_stores_nothing_and_shows_the_existing_dispatch(app, login_as, seed_pdf):
    client = login_as("writer")
    upload(client, seed_pdf)
    first = db.session.scalar(select(Dispatch))
    events = db.session.scalar(select(func.count()).select_from(AuditEvent))
    response = upload(client, seed_pdf, name="ban-sao.pdf")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/dispatches/{first.id}")
    page = client.get(response.headers["Location"])
    assert "Công văn này đã được nhận lúc 08:00 27/11/2026" in text_of(page)
    assert "không lưu thêm bản nào" in text_of(page)
    assert dispatch_count() == 1
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == events
    assert stored_files(app) == [first.sha256]
    # The same text pasted twice is one dispatch too.
    paste(client, seed_text())
    paste(client, seed_text())
    assert dispatch_count() == 2


def test_another_unit_receiving_the_same_file_gets_its_own_dispatch(app, login_as, seed_pdf):
    upload(login_as("writer"), seed_pdf)
    upload(login_as("outsider"), seed_pdf)
    units = db.session.scalars(select(Dispatch.unit_id)).all()
    assert len(set(units)) == 2
    assert len(stored_files(app)) == 1


def test_original_is_served_with_its_type_and_name(app, login_as, seed_pdf):
    client = login_as("writer")
    upload(client, seed_pdf, name="Công văn 855.pdf")
    d = db.session.scalar(select(Dispatch))
    response = client.get(f"/dispatches/{d.id}/original")
    assert response.status_code == 200
    assert response.data == seed_pdf
    response.close()
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("inline;")
    assert "filename*=UTF-8''C%C3%B4ng%20v%C4%83n%20855.pdf" in disposition
    assert "no-store" in response.headers["Cache-Control"]
    download = client.get(f"/dispatches/{d.id}/original?download=1")
    download.close()
    assert download.headers["Content-Disposition"].startswith("attachment;")
    # Other roles of the unit and supervisors above see it; another district does not.
    for name in ("operator", "supervisor"):
        seen = login_as(name).get(f"/dispatches/{d.id}/original")
        seen.close()
        assert seen.status_code == 200
    assert login_as("outsider").get(f"/dispatches/{d.id}/original").status_code == 404
    assert app.test_client().get(f"/dispatches/{d.id}/original").status_code == 302


# --- Bad input at intake: a clear message and nothing stored --------------------------------


def _assert_refused(app, response, message: str, status: int = 422) -> None:
    """The intake page again with the message; no row, no file, no audit event."""
    assert response.status_code == status, text_of(response)
    assert "Không nhận được công văn này" in text_of(response)
    assert message in text_of(response)
    assert dispatch_count() == 0
    assert stored_files(app) == []
    assert (
        db.session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.object_type == "dispatch")
        )
        == 0
    )


def test_encrypted_pdf_is_refused(app, login_as):
    locked = render_pdf(seed_text(), password="mat-khau")
    response = upload(login_as("writer"), locked, name="khoa.pdf")
    _assert_refused(app, response, "PDF có mật khẩu nên không đọc được")


def test_pdf_of_300_pages_is_refused(app, login_as):
    long = render_pdf("\n".join(f"Dòng {i}" for i in range(300 * 42)), page_numbers=False)
    response = upload(login_as("writer"), long, name="dai.pdf")
    _assert_refused(app, response, "quá giới hạn 50 trang của một công văn")


def test_file_of_50_mb_is_refused_with_a_page_not_a_bare_413(app, login_as, seed_pdf):
    from werkzeug.datastructures import FileStorage
    from werkzeug.test import encode_multipart

    big = seed_pdf + b"\n%" + b"0" * (50 * 1024 * 1024)
    # Encoded in memory: the test client would spool a body this large to a temporary file.
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(big), "lon.pdf")})
    response = login_as("writer").post(
        "/dispatches/new", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    _assert_refused(app, response, "Tệp quá lớn (50 MB): công văn được tải lên tối đa 20 MB.", 413)
    assert "Nhận công văn" in text_of(response)


def test_file_just_over_the_limit_is_refused_by_the_reader(app, login_as, seed_pdf):
    app.config["DISPATCH_MAX_BYTES"] = 10 * 1024
    response = upload(login_as("writer"), seed_pdf + b"%" * 20 * 1024, name="x.pdf")
    _assert_refused(app, response, "công văn được tải lên tối đa 10 KB", 413)


def test_file_that_is_not_what_its_name_says_is_refused(app, login_as):
    response = upload(login_as("writer"), seed_text().encode(), name="cong-van.pdf")
    _assert_refused(app, response, "Tệp “cong-van.pdf” không đúng như tên của nó")


def _zip_bomb() -> bytes:
    """The seed DOCX with a part that unpacks to 8 MB from a few KB."""
    import zipfile

    from tests.dispatches.render import seed_docx

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(seed_docx())) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            target.writestr(item, source.read(item.filename))
        target.writestr(
            "word/media/image1.png", b"\x00" * (8 * 1024 * 1024), compress_type=zipfile.ZIP_DEFLATED
        )
    return out.getvalue()


def test_docx_zip_bomb_is_refused(app, login_as):
    response = upload(login_as("writer"), _zip_bomb(), name="bom.docx")
    _assert_refused(app, response, "có thể là “bom nén”")


def _blank_photo(kind: str) -> bytes:
    """A phone photo of a white sheet: no text at all."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (800, 1100), (250, 250, 248)).save(out, format=kind)
    return out.getvalue()


@pytest.mark.parametrize(("kind", "name"), [("PNG", "anh.png"), ("JPEG", "anh.jpg")])
def test_photo_with_no_text_is_refused(app, login_as, kind, name):
    from app.dispatches import extract, ocr, reader

    photo = _blank_photo(kind)
    try:
        ocr.check_tesseract()
        expected = "no_text"
    except ocr.OcrError:
        # Without Tesseract the desk says OCR is not installed (tests/dispatches/test_ocr.py
        # skips loudly, and fails in CI, where it is installed).
        expected = "ocr_unavailable"
    with pytest.raises(extract.DispatchFileError) as caught:
        reader.require_number(reader.read_file(photo, name))
    assert caught.value.code == expected
    response = upload(login_as("writer"), photo, name=name)
    _assert_refused(app, response, caught.value.message)


def test_dispatch_without_a_number_is_refused(app, login_as):
    text = seed_text().replace("Số:     855   /BCĐ-TBTTTT", "Số:          /BCĐ-TBTTTT")
    response = upload(login_as("writer"), text.encode(), name="khong-so.txt")
    _assert_refused(app, response, "Văn bản không có số (dòng “Số: …” để trống số)")
    assert "Không có gì được lưu" in text_of(response)
    # Pasted, the text stays in the form for the officer to add the number.
    response = paste(login_as("writer"), text)
    _assert_refused(app, response, "bổ sung số và ký hiệu vào dòng “Số:”")
    assert "Tiểu Ban Thông tin Tuyên truyền" in response.get_data(as_text=True)


def test_empty_and_double_input_are_refused(app, login_as, seed_pdf):
    client = login_as("writer")
    _assert_refused(app, client.post("/dispatches/new", data={}), "Hãy chọn tệp công văn")
    response = upload(client, seed_pdf, text=seed_text())
    _assert_refused(app, response, "Chọn một trong hai")
    _assert_refused(app, upload(client, b"", name="rong.pdf"), "Chưa chọn tệp nào, hoặc tệp rỗng")


def test_operator_and_admin_cannot_take_dispatches_in(app, login_as, seed_pdf):
    for name in ("operator", "admin"):
        assert upload(login_as(name), seed_pdf).status_code == 403
    assert dispatch_count() == 0 and stored_files(app) == []


# --- Confirming -----------------------------------------------------------------------------


@pytest.fixture
def received(app, login_as, seed_pdf, org):
    """The seed uploaded by the writer of the district, with a station named in its list."""
    make_station(org.district, "PTH-RADIO", "Đài Truyền thanh thành phố Phan Thiết")
    upload(login_as("writer"), seed_pdf)
    return db.session.scalar(select(Dispatch))


def test_confirm_page_shows_every_field_the_text_and_the_suggestions(login_as, received, org):
    response = login_as("writer").get(f"/dispatches/{received.id}/confirm")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    page = text_of(response)
    assert "Xác nhận công văn" in page
    for value in ('value="855"', 'value="BCĐ-TBTTTT"', 'value="Dương Tự"', 'value="2021-08-30"'):
        assert value in html
    assert '<option selected value="HỎA TỐC">' in html
    assert "Gợi ý mức ưu tiên cho kịch bản: ưu tiên." in page
    assert 'name="cites-0-number" type="number" value="1286"' in html
    assert 'name="contacts-1-value" type="text" value="0937938383"' in html
    # The campaign suggested from the subject, the validity from today, the targets from the
    # distribution list ("Đài Truyền thanh thành phố Phan Thiết" is a station of the district).
    assert 'value="Đẩy mạnh truyền thông chiến dịch tiêm vắc xin' in html
    assert 'name="valid_from" type="date" value="2026-11-27"' in html
    target = (
        f'<input checked id="targets-0" name="targets" type="checkbox" value="{org.district.id}">'
    )
    assert target in html
    assert f'<input id="targets-1" name="targets" type="checkbox" value="{org.commune.id}">' in html
    assert "Loa gợi ý theo “Kính gửi” và “Nơi nhận”: Thành phố Phan Thiết." in page
    # The text beside the form.
    assert "Thực hiện Kế hoạch số 1286/KH-UBND ngày 16/4/2021" in page


def test_confirming_saves_corrections_and_marks_it_confirmed(app, login_as, users, received, org):
    client = login_as("writer")
    data = confirm_data(
        received,
        issuer="Tiểu ban Thông tin Tuyên truyền",
        campaign="Tiêm chủng COVID-19 đợt 6",
        distribution="- Như trên;\n- Đài Truyền thanh thành phố Phan Thiết;\n\n",
        valid_until="2026-12-31",
        report_due="2026-12-15",
        targets=[str(org.district.id), str(org.commune.id)],
        **{"deadlines-0-date": "2021-09-15", "deadlines-0-text": "Báo cáo kết quả"},
    )
    response = client.post(f"/dispatches/{received.id}/confirm", data=data)
    assert response.status_code == 302, text_of(response)
    db.session.expire_all()
    d = db.session.get(Dispatch, received.id)
    assert d.status == DispatchStatus.CONFIRMED
    assert d.confirmed_by_id == users["writer"].id and d.confirmed_at is not None
    assert d.issuer == "Tiểu ban Thông tin Tuyên truyền"
    assert d.distribution == ["Như trên", "Đài Truyền thanh thành phố Phan Thiết"]
    assert (d.valid_until, d.report_due) == (date(2026, 12, 31), date(2026, 12, 15))
    assert d.deadlines == [{"date": "2021-09-15", "time": None, "text": "Báo cáo kết quả"}]
    assert [u.code for u in d.targets] == ["C", "D"]
    assert d.cites[2]["code"] == "NQ-CP" and d.contacts[1]["text"] == "0937 93 83 83"
    assert d.revision == received.revision
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "dispatch.confirm"))
    assert event.details["changed"]["issuer"][1] == "Tiểu ban Thông tin Tuyên truyền"
    assert "campaign" in event.details["changed"]
    page = text_of(client.get(f"/dispatches/{d.id}"))
    assert "Đã xác nhận Công văn số 855/BCĐ-TBTTTT ngày 30/8/2021." in page


def test_confirm_with_bad_fields_saves_nothing_and_says_why(login_as, received):
    client = login_as("writer")
    data = confirm_data(
        received,
        number="",
        code="",
        urgency="RẤT GẤP",
        valid_from="2021-09-30",
        valid_until="2021-09-01",
        **{"cites-0-number": "", "contacts-0-type": "fax"},
    )
    response = client.post(f"/dispatches/{received.id}/confirm", data=data)
    assert response.status_code == 422
    page = text_of(response)
    assert "Công văn phải có số" in page or "Chưa lưu được" in page
    db.session.expire_all()
    assert db.session.get(Dispatch, received.id).status == DispatchStatus.RECEIVED
    data = confirm_data(received, number="", valid_from="2021-09-30", valid_until="2021-09-01")
    page = text_of(client.post(f"/dispatches/{received.id}/confirm", data=data))
    assert "Công văn phải có số (ví dụ 855)." in page
    assert "Ngày hết hiệu lực không được trước ngày bắt đầu hiệu lực." in page
    data = confirm_data(received, **{"cites-0-number": ""})
    page = text_of(client.post(f"/dispatches/{received.id}/confirm", data=data))
    assert "Mỗi văn bản được dẫn cần có số" in page
    db.session.expire_all()
    d = db.session.get(Dispatch, received.id)
    assert d.status == DispatchStatus.RECEIVED and d.number == 855


def test_confirm_from_a_stale_page_is_a_conflict_and_saves_nothing(login_as, received):
    first, second = login_as("writer"), login_as("writer2")
    stale = confirm_data(received, signer_name="Dương Văn Tự")
    fresh = confirm_data(received, signer_name="Dương Tự")
    assert second.post(f"/dispatches/{received.id}/confirm", data=fresh).status_code == 302
    response = first.post(f"/dispatches/{received.id}/confirm", data=stale)
    assert response.status_code == 409
    assert "vừa được người khác sửa hoặc xác nhận" in text_of(response)
    db.session.expire_all()
    assert db.session.get(Dispatch, received.id).signer_name == "Dương Tự"
    # The page now carries the newer revision: saving again knowingly replaces it.
    revision = re.search(r'name="revision" type="hidden" value="(\d+)"', response.get_data(True))
    again = {**stale, "revision": revision.group(1)}
    assert first.post(f"/dispatches/{received.id}/confirm", data=again).status_code == 302
    db.session.expire_all()
    assert db.session.get(Dispatch, received.id).signer_name == "Dương Văn Tự"


def test_target_outside_the_users_units_is_refused(login_as, received, org):
    data = confirm_data(received, targets=[str(org.other_district.id)])
    response = login_as("writer").post(f"/dispatches/{received.id}/confirm", data=data)
    assert response.status_code == 422
    db.session.expire_all()
    assert db.session.get(Dispatch, received.id).status == DispatchStatus.RECEIVED


def test_only_writers_and_supervisors_of_its_units_confirm(login_as, received):
    data = confirm_data(received)
    for name, status in (("operator", 403), ("admin", 403), ("outsider", 404)):
        assert login_as(name).post(f"/dispatches/{received.id}/confirm", data=data).status_code == (
            status
        )
        assert login_as(name).get(f"/dispatches/{received.id}/confirm").status_code == status
    db.session.expire_all()
    assert db.session.get(Dispatch, received.id).status == DispatchStatus.RECEIVED
    assert (
        login_as("supervisor").post(f"/dispatches/{received.id}/confirm", data=data).status_code
        == 302
    )


# --- The list and search --------------------------------------------------------------------


def test_list_searches_without_accents_and_filters_by_status_and_units(app, login_as, received):
    other = (
        seed_text()
        .replace("855", "901")
        .replace("đẩy mạnh truyền thông chiến dịch tiêm", "phòng chống xâm nhập mặn và tiêm")
    )
    paste(login_as("writer"), other)
    writer = login_as("writer")
    page = text_of(writer.get("/dispatches/?q=day+manh"))
    assert "Công văn số 855/BCĐ-TBTTTT" in page and "901/BCĐ" not in page
    page = text_of(writer.get("/dispatches/?q=XAM+NHAP+man"))
    assert "Công văn số 901/BCĐ-TBTTTT" in page and "855/BCĐ" not in page
    page = text_of(writer.get("/dispatches/?q=855%2FBCĐ"))
    assert "855/BCĐ-TBTTTT" in page and "901/" not in page
    page = text_of(writer.get("/dispatches/?q=tieu+ban+duong+tu"))
    assert "855/BCĐ" in page and "901/BCĐ" in page
    assert "Không có công văn nào khớp" in text_of(writer.get("/dispatches/?q=50%25_x"))
    confirmed = text_of(writer.get("/dispatches/?status=confirmed"))
    assert "Không có công văn nào khớp" in confirmed
    assert "855/BCĐ" in text_of(writer.get("/dispatches/?status=received"))
    # A supervisor above sees them; another district does not; bad filters are ignored.
    assert "855/BCĐ" in text_of(login_as("supervisor").get("/dispatches/?status=nonsense"))
    assert "Chưa nhận công văn nào" in text_of(login_as("outsider").get("/dispatches/"))
    assert login_as("outsider").get(f"/dispatches/{received.id}").status_code == 404


# --- Drafts ---------------------------------------------------------------------------------


@pytest.fixture
def confirmed(login_as, received, org):
    """The seed confirmed by the writer, for the district and its commune, until 31/12/2026."""
    data = confirm_data(
        received,
        issuer="Tiểu ban Thông tin Tuyên truyền",
        valid_until="2026-12-31",
        targets=[str(org.district.id), str(org.commune.id)],
    )
    assert (
        login_as("writer").post(f"/dispatches/{received.id}/confirm", data=data).status_code == 302
    )
    db.session.expire_all()
    return db.session.get(Dispatch, received.id)


OPENING = (
    "Thực hiện Công văn số 855/BCĐ-TBTTTT ngày 30/8/2021 của Tiểu ban Thông tin Tuyên truyền, "
    "BCĐ phòng chống dịch COVID-19 tỉnh Bình Thuận về việc " + SEED_SUBJECT + ","
)


def test_one_click_draft_carries_the_dispatch(login_as, users, confirmed, org):
    client = login_as("writer")
    response = client.post(f"/dispatches/{confirmed.id}/drafts", data={"kind": "opening"})
    assert response.status_code == 302
    script = db.session.scalar(select(Script))
    assert response.headers["Location"].endswith(f"/scripts/{script.id}")
    assert script.dispatch_id == confirmed.id
    assert script.status == ScriptStatus.DRAFT
    assert script.unit_id == org.district.id
    assert script.title == SEED_SUBJECT[0].upper() + SEED_SUBJECT[1:]
    assert (script.source_kind, script.source_number) == ("Công văn", "855/BCĐ-TBTTTT")
    assert (script.source_date, script.source_issuer) == (
        date(2021, 8, 30),
        "Tiểu ban Thông tin Tuyên truyền",
    )
    assert script.campaign == confirmed.campaign
    assert script.priority == Priority.HIGH
    assert (script.valid_from, script.valid_until) == (date(2026, 11, 27), date(2026, 12, 31))
    assert [u.code for u in script.targets] == ["C", "D"]
    body = script.current_version.body
    assert body.startswith(OPENING + " xin thông báo đến toàn thể nhân dân:\n\n")
    assert "Phát hiện, nêu gương những cá nhân điển hình" in body
    assert script.created_by_id == users["writer"].id
    page = text_of(client.get(f"/scripts/{script.id}"))
    assert "Từ công văn Công văn số 855/BCĐ-TBTTTT ngày 30/8/2021" in page


def test_drafts_from_chosen_points_one_per_point(login_as, confirmed):
    client = login_as("writer")
    response = client.post(
        f"/dispatches/{confirmed.id}/drafts", data={"kind": "points", "points": ["3", "5"]}
    )
    assert response.status_code == 302
    made = db.session.scalars(select(Script).order_by(Script.id)).all()
    assert len(made) == 2
    assert made[0].title == (
        "Truyền thông và vận động người dân ủng hộ công tác tiêm chủng vắc xin phòng COVID-19 theo…"
    )
    assert made[1].title == (
        "Phát hiện, nêu gương những cá nhân điển hình trong phong trào thi đua hoàn thành kế hoạch…"
    )
    assert made[1].current_version.body == (
        f"{OPENING} xin thông báo:\n\n{confirmed.points[5]['text']}"
    )
    assert all(s.dispatch_id == confirmed.id for s in made)
    page = client.get(f"/dispatches/{confirmed.id}")
    html = page.get_data(as_text=True)
    for script in made:
        assert f'href="/scripts/{script.id}"' in html
    assert text_of(page).count("Bản nháp") >= 2
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "dispatch.drafts"))
    assert event.details["scripts"] == [s.id for s in made]


def test_dispatch_page_offers_the_points_as_candidates(app, login_as, confirmed):
    html = login_as("writer").get(f"/dispatches/{confirmed.id}").get_data(as_text=True)
    assert html.count('type="checkbox" name="points"') == len(confirmed.points)
    assert "Tạo bản nháp từ các mục đã chọn" in html
    assert ("Theo dõi thực hiện" in html) == ("dispatches.tracking" in app.view_functions)
    # Operators and admins see the dispatch, without the drafting forms.
    for name in ("operator", "admin"):
        page = login_as(name).get(f"/dispatches/{confirmed.id}")
        assert page.status_code == 200
        assert "Tạo bản nháp" not in page.get_data(as_text=True)


def test_drafting_is_refused_to_operators_admins_and_other_units(login_as, confirmed):
    data = {"kind": "opening"}
    for name, status in (("operator", 403), ("admin", 403), ("outsider", 404)):
        assert login_as(name).post(f"/dispatches/{confirmed.id}/drafts", data=data).status_code == (
            status
        )
    assert db.session.scalar(select(func.count()).select_from(Script)) == 0
    assert (
        login_as("supervisor").post(f"/dispatches/{confirmed.id}/drafts", data=data).status_code
        == 302
    )


def test_drafts_need_a_confirmed_dispatch_and_real_points(login_as, received, confirmed_later=None):
    client = login_as("writer")
    response = client.post(f"/dispatches/{received.id}/drafts", data={"kind": "opening"})
    assert "hãy xác nhận thông tin công văn trước" in text_of(
        client.get(response.headers["Location"])
    )
    assert db.session.scalar(select(func.count()).select_from(Script)) == 0


def test_unknown_or_no_points_make_no_draft(login_as, confirmed):
    client = login_as("writer")
    for points in (["99"], ["-1"], ["x"], []):
        response = client.post(
            f"/dispatches/{confirmed.id}/drafts", data={"kind": "points", "points": points}
        )
        assert response.status_code == 302
    page = text_of(client.get(f"/dispatches/{confirmed.id}"))
    assert "Hãy chọn ít nhất một mục" in page or "Mục đã chọn không có" in page
    assert db.session.scalar(select(func.count()).select_from(Script)) == 0


def test_helper_makes_a_confirmed_dispatch_with_two_drafts(app, users, org):
    d, scripts = make_confirmed_dispatch(users["writer"], [org.district, org.commune])
    assert d.status == DispatchStatus.CONFIRMED
    assert [s.dispatch_id for s in scripts] == [d.id, d.id]
    assert [u.code for u in d.targets] == ["C", "D"]


def test_docx_upload_is_read_and_kept_with_its_type(app, login_as):
    from tests.dispatches.render import seed_docx

    data = seed_docx()
    response = upload(login_as("writer"), data, name="cong-van-855.docx")
    assert response.status_code == 302
    d = db.session.scalar(select(Dispatch))
    assert (d.file_kind, d.number, d.code, d.signer_name) == ("docx", 855, "BCĐ-TBTTTT", "Dương Tự")
    assert d.media_type.endswith("wordprocessingml.document")
    assert (service.originals_dir() / d.sha256).read_bytes() == data


def test_targets_are_suggested_by_name_station_and_level_never_from_copies(app, users, org):
    make_unit("D3", "Huyện Tuy Phong", parent=org.province, level="Huyện")
    make_station(
        org.other_district, "LGI-TT", "Trung tâm Văn hóa - Thông tin - Thể thao thị xã La Gi"
    )
    d = Dispatch(unit=org.province, addressees=["UBND các huyện, thị xã"], distribution=[])
    names = sorted(u.name for u in service.suggest_targets(d, users["supervisor"]))
    assert names == ["Huyện Tuy Phong", "Thị xã La Gi"]
    d = Dispatch(
        unit=org.province,
        addressees=[],
        distribution=[
            "Trung tâm Văn hóa - Thông tin - Thể thao thị xã La Gi",
            "UBND thành phố Phan Thiết (b/c)",
            "Lưu: VT, Phường Phú Thủy",
        ],
    )
    assert [u.code for u in service.suggest_targets(d, users["supervisor"])] == ["D2"]
    # Nothing named: the receiving unit acts itself.
    d = Dispatch(unit=org.district, addressees=["Các cơ quan báo chí"], distribution=[])
    assert service.suggest_targets(d, users["writer"]) == [org.district]


def test_issuer_names_are_written_as_a_sentence_writes_them():
    assert service.spoken_name("ỦY BAN NHÂN DÂN HUYỆN HÀM THUẬN BẮC", "") == (
        "Ủy ban nhân dân huyện Hàm Thuận Bắc"
    )
    assert service.spoken_name("UBND THÀNH PHỐ PHAN THIẾT", "") == "UBND thành phố Phan Thiết"
    assert service.spoken_name("SỞ Y TẾ", "… theo đề nghị của Sở Y tế, …") == "Sở Y tế"
    assert service.spoken_name("Sở Y tế", "") == "Sở Y tế"
    assert service.suggested_priority("THƯỢNG KHẨN") == Priority.HIGH
    assert service.suggested_priority("") == Priority.NORMAL


def test_points_in_other_digits_make_no_draft_and_say_why(login_as, confirmed):
    client = login_as("writer")
    for points in (["²"], ["3", "①"], ["9" * 30]):
        response = client.post(
            f"/dispatches/{confirmed.id}/drafts",
            data={"kind": "points", "points": points},
            follow_redirects=True,
        )
        assert "Mục đã chọn không có trong công văn." in text_of(response), points
    assert db.session.scalar(select(func.count()).select_from(Script)) == 0


def test_a_revision_in_other_digits_is_a_conflict_and_saves_nothing(login_as, received):
    client = login_as("writer")
    for revision in ("²", "①"):
        data = confirm_data(received, signer_name="Dương Tự", revision=revision)
        response = client.post(f"/dispatches/{received.id}/confirm", data=data)
        assert response.status_code == 409, revision
        assert "vừa được người khác sửa hoặc xác nhận" in text_of(response)
    db.session.expire_all()
    assert db.session.get(Dispatch, received.id).status == DispatchStatus.RECEIVED
