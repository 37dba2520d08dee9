"""The library's rules: ingest and mastering by kind, storage by sha256, duplicates, refusals
that store nothing, who may see and change what, search, edits and archiving."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from app.extensions import db
from app.library import service
from app.library.models import LibraryItem, LibraryKind
from app.speech.audio import measure


def add(user, path, *, kind=LibraryKind.JINGLE, title="Nhạc hiệu buổi sáng", unit=None, **kw):
    """Add a file to the library as user."""
    data = service.ItemInput(title=title, kind=kind, unit=unit, **kw)
    with open(path, "rb") as stream:
        return service.add_item(user, data, stream, path.name)


def stored_files() -> list:
    """Every file under AUDIO_DIR/library (temporary folders included)."""
    folder = service.library_dir()
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def nothing_stored() -> bool:
    """No item row and no file."""
    return db.session.scalar(select(func.count()).select_from(LibraryItem)) == 0 and (
        stored_files() == []
    )


def test_a_jingle_is_trimmed_mastered_and_kept_by_sha256_with_its_original(app, users, sounds):
    added = add(users["writer"], sounds["jingle"], licence_note="Đài tự sản xuất, 2026")
    item = added.item
    assert not added.duplicate and item.id
    mastered = service.library_dir() / f"{item.audio_sha256}.mp3"
    original = service.library_dir() / "originals" / item.original_sha256
    assert hashlib.sha256(mastered.read_bytes()).hexdigest() == item.audio_sha256
    assert original.read_bytes() == sounds["jingle"].read_bytes()
    assert item.original_sha256 == hashlib.sha256(original.read_bytes()).hexdigest()
    assert stored_files() == sorted([mastered, original])
    # 0.6 s of silence each side: cut to the 50 ms / 300 ms the library keeps.
    assert item.trimmed and 0.5 <= item.trimmed_lead_s <= 0.6
    assert 0.25 <= item.trimmed_tail_s <= 0.35
    assert 1.4 <= item.duration_s <= 1.7
    assert item.original_measures["duration_s"] == pytest.approx(2.4, abs=0.05)
    assert item.original_measures["codec"] == "pcm_s16le"
    real = measure(mastered)
    assert real.integrated_lufs == pytest.approx(-16.0, abs=1.0)
    assert real.true_peak_dbtp <= -0.9
    assert (item.integrated_lufs, item.duration_s) == (real.integrated_lufs, real.duration_s)
    assert item.audio_format == "mp3" and item.sample_rate == 44100
    assert item.unit_id == users["writer"].unit_id and item.created_by_id == users["writer"].id
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "library.add"))
    assert event.object_id == item.id and event.details["audio_sha256"] == item.audio_sha256


def test_a_bed_keeps_its_silences(app, users, sounds):
    item = add(users["operator"], sounds["bed"], kind=LibraryKind.BED, title="Nhạc nền").item
    assert not item.trimmed and item.trimmed_lead_s == item.trimmed_tail_s == 0
    assert item.duration_s == pytest.approx(2.4, abs=0.1)
    assert item.integrated_lufs == pytest.approx(-16.0, abs=1.0)


def test_the_same_file_twice_in_a_unit_is_the_item_already_there(app, users, org, sounds):
    first = add(users["writer"], sounds["jingle"]).item
    files = stored_files()
    again = add(users["operator"], sounds["jingle"], title="Bản khác", kind=LibraryKind.IDENT)
    assert again.duplicate and again.item.id == first.id and again.item.title == first.title
    assert db.session.scalar(select(func.count()).select_from(LibraryItem)) == 1
    assert stored_files() == files
    # Another unit may hold the same file: its own item, the same stored audio.
    other = add(users["outsider"], sounds["jingle"]).item
    assert other.id != first.id and other.audio_sha256 == first.audio_sha256
    assert stored_files() == files


@pytest.mark.parametrize(
    ("sound", "kind", "code", "words"),
    [
        ("garbage", LibraryKind.JINGLE, "not_audio", "không phải tệp âm thanh"),
        ("text_as_mp3", LibraryKind.MUSIC, "not_audio", "không phải tệp âm thanh"),
        ("silent", LibraryKind.JINGLE, "silent", "không có tiếng"),
        ("long", LibraryKind.PROGRAMME, "too_long", "quá giới hạn 3,0 giây"),
    ],
)
def test_a_file_that_is_not_usable_audio_is_refused_and_nothing_is_stored(
    app, users, sounds, sound, kind, code, words
):
    app.config["LIBRARY_MAX_SECONDS"] = 3
    with pytest.raises(service.LibraryRefused) as refused:
        add(users["writer"], sounds[sound], kind=kind)
    assert refused.value.code == code and words in refused.value.message
    assert refused.value.fields == {"file": refused.value.message}
    db.session.rollback()
    assert nothing_stored()


def test_jingles_and_idents_have_a_short_cap_of_their_own(app):
    app.config["LIBRARY_MAX_SECONDS"] = 7200
    assert service.max_seconds(LibraryKind.JINGLE) == 180
    assert service.max_seconds(LibraryKind.IDENT) == 180
    assert service.max_seconds(LibraryKind.PROGRAMME) == 7200


def test_an_empty_file_is_refused(app, users, tmp_path):
    empty = tmp_path / "rong.mp3"
    empty.write_bytes(b"")
    with pytest.raises(service.LibraryRefused, match="tệp rỗng"):
        add(users["writer"], empty)
    assert nothing_stored()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": "   "}, "title"),
        ({"title": "x" * 301}, "title"),
        ({"kind": "podcast"}, "kind"),
        ({"kind": None}, "kind"),
        ({"licence_note": "y" * 1001}, "licence_note"),
    ],
)
def test_bad_fields_are_refused_before_the_file_is_read(app, users, sounds, fields, field):
    with pytest.raises(ValidationError) as refused:
        add(users["writer"], sounds["jingle"], **fields)
    assert field in refused.value.fields
    assert nothing_stored()


def test_a_unit_outside_ones_branch_is_refused(app, users, org, sounds):
    with pytest.raises(ValidationError) as refused:
        add(users["writer"], sounds["jingle"], unit=org.other_district)
    assert "unit" in refused.value.fields
    assert nothing_stored()


def test_a_supervisor_reads_the_library_but_does_not_add_to_it(app, users, sounds):
    with pytest.raises(PermissionDenied):
        add(users["supervisor"], sounds["jingle"])
    assert nothing_stored()


def test_quiet_and_clipped_originals_are_taken_with_warnings_that_give_their_measures(
    app, users, sounds
):
    quiet = add(users["writer"], sounds["quiet"], title="Nhỏ").item
    clipped = add(users["writer"], sounds["clipped"], title="Méo").item
    assert any("nhỏ tiếng" in w and "LUFS" in w for w in quiet.warnings), quiet.warnings
    assert any("méo" in w and "dBFS" in w for w in clipped.warnings), clipped.warnings
    for item in (quiet, clipped):
        assert item.integrated_lufs == pytest.approx(-16.0, abs=1.0)
        assert item.true_peak_dbtp <= -0.9


def test_items_are_seen_in_ones_branch_and_from_the_units_above_but_changed_only_below(
    app, users, org, sounds
):
    from tests.factories import make_user

    provincial = add(users["admin"], sounds["jingle"], title="Nhận diện đài tỉnh").item
    district = add(users["writer"], sounds["bed"], title="Nhạc nền", kind="bed").item
    commune_writer = make_user(org.commune, username="commune")
    seen = db.session.scalars(service.items_query(commune_writer, service.ItemFilter())).all()
    assert [i.id for i in seen] == [district.id, provincial.id]
    assert service.get_item(commune_writer, provincial.id) == provincial
    with pytest.raises(PermissionDenied, match="đơn vị cấp trên"):
        service.set_archived(commune_writer, provincial, True)
    with pytest.raises(NotFound):
        service.get_item(users["outsider"], district.id)
    outsider_sees = service.items_query(users["outsider"], service.ItemFilter())
    assert [i.id for i in db.session.scalars(outsider_sees)] == [provincial.id]


def test_search_ignores_accents_and_filters_by_kind_unit_and_archived(app, users, org, sounds):
    jingle = add(users["writer"], sounds["jingle"], title="Nhạc hiệu Đài Phú Thủy").item
    bed = add(
        users["writer"], sounds["bed"], title="Nền nhẹ", kind="bed", licence_note="Tự sản xuất"
    ).item

    def found(**kw):
        query = service.items_query(users["writer"], service.ItemFilter(**kw))
        return [i.id for i in db.session.scalars(query)]

    assert found(q="nhac hieu") == [jingle.id]
    assert found(q="PHU THUY dai") == [jingle.id]
    assert found(q="tu san xuat") == [bed.id]
    assert found(q="nhạc nền") == [bed.id]  # the kind's name is searched too
    assert found(q="100%") == []
    assert found(kind=LibraryKind.BED) == [bed.id]
    assert found(unit=org.district) == [bed.id, jingle.id]
    service.set_archived(users["writer"], bed, True)
    assert found() == [jingle.id]
    assert found(include_archived=True) == [bed.id, jingle.id]


def test_editing_changes_the_fields_not_the_audio_and_is_audited(app, users, sounds):
    item = add(users["writer"], sounds["jingle"]).item
    audio, revision = item.audio_sha256, item.revision
    data = service.ItemInput(title="Nhạc hiệu mới", kind="ident", licence_note="Nguồn: VOV")
    assert service.update_item(users["operator"], item, data, revision)
    assert (item.title, item.kind, item.audio_sha256) == ("Nhạc hiệu mới", LibraryKind.IDENT, audio)
    assert "nhac hieu moi" in item.search_text and "vov" in item.search_text
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "library.edit"))
    assert event.details["changes"]["kind"] == ["jingle", "ident"]
    with pytest.raises(Conflict):
        service.update_item(users["writer"], item, data, revision)
    assert not service.update_item(users["writer"], item, data, item.revision)


def test_archiving_and_restoring_are_audited_and_not_repeated(app, users, sounds):
    item = add(users["writer"], sounds["jingle"]).item
    service.set_archived(users["operator"], item, True)
    assert item.archived and item.archived_by_id == users["operator"].id and item.archived_at
    with pytest.raises(Conflict):
        service.set_archived(users["operator"], item, True)
    service.set_archived(users["writer"], item, False)
    assert not item.archived and item.archived_at is None
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_type == "library_item")
    ).all()
    assert sorted(actions) == ["library.add", "library.archive", "library.restore"]
    with pytest.raises(PermissionDenied):
        service.set_archived(users["supervisor"], item, True)
