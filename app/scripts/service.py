"""Rules for scripts: validation, immutable versions, the review workflow and search."""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Integer, any_, column, delete, func, literal, select, table, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer
from sqlalchemy.orm.exc import StaleDataError

from app.audit.service import record_event
from app.auth.models import User
from app.auth.permissions import Permission, in_scope, require, require_scope
from app.core import clock
from app.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from app.core.text import fold, nfc
from app.extensions import db
from app.org.models import Unit
from app.scripts.models import (
    MAX_BODY_CHARS,
    SEARCH_MIN_CHARS,
    SEARCH_TABLE,
    SEARCH_WORDS_TABLE,
    Decision,
    Priority,
    Script,
    ScriptReview,
    ScriptStatus,
    ScriptVersion,
)
from app.speech import service as speech

EDITABLE = {
    ScriptStatus.DRAFT,
    ScriptStatus.SUBMITTED,
    ScriptStatus.APPROVED,
    ScriptStatus.REJECTED,
}
MIN_REASON_CHARS = 5


@dataclass
class ScriptInput:
    """Everything a writer sets on a script; the body becomes a version when it changes."""

    title: str
    body: str
    unit: Unit
    priority: Priority = Priority.NORMAL
    campaign: str = ""
    category: str = ""
    source_kind: str = ""
    source_number: str = ""
    source_date: date | None = None
    source_issuer: str = ""
    valid_from: date | None = None
    valid_until: date | None = None
    targets: list[Unit] = field(default_factory=list)
    # The dispatch a new script is drafted from (app.dispatches); set on creation only.
    dispatch_id: int | None = None


def body_sha256(body: str) -> str:
    """Hash of a version's text, recorded with the version and with approvals."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _thousands(n: int) -> str:
    """Vietnamese thousands separator: 20.000."""
    return f"{n:,}".replace(",", ".")


def clean_input(data: ScriptInput) -> ScriptInput:
    """Normalise text fields to NFC and trim them; raise ValidationError on bad input."""
    data.title = nfc(data.title).strip()
    data.body = nfc(data.body).strip()
    for name in ("campaign", "category", "source_kind", "source_number", "source_issuer"):
        setattr(data, name, nfc(getattr(data, name) or "").strip())
    errors: dict[str, str] = {}
    if not data.title:
        errors["title"] = "Hãy nhập tiêu đề."
    elif len(data.title) > 300:
        errors["title"] = "Tiêu đề tối đa 300 ký tự."
    if not data.body:
        errors["body"] = "Nội dung không được để trống."
    elif len(data.body) > MAX_BODY_CHARS:
        errors["body"] = (
            f"Nội dung dài {_thousands(len(data.body))} ký tự, "
            f"vượt giới hạn {_thousands(MAX_BODY_CHARS)} ký tự."
        )
    for name, limit in (
        ("campaign", 200),
        ("category", 120),
        ("source_kind", 60),
        ("source_number", 80),
        ("source_issuer", 300),
    ):
        if len(getattr(data, name)) > limit:
            errors[name] = f"Tối đa {limit} ký tự."
    if data.valid_from and data.valid_until and data.valid_until < data.valid_from:
        errors["valid_until"] = "Ngày hết hiệu lực không được trước ngày bắt đầu hiệu lực."
    if errors:
        raise ValidationError("Kịch bản chưa lưu được: hãy sửa các ô được đánh dấu.", errors)
    return data


def _check_units(actor: User | None, data: ScriptInput, script: Script | None = None) -> None:
    """Owner and target units must lie in the actor's subtree.

    Targets the script already has outside the actor's subtree (set by a supervisor higher
    up) are kept as they are; only targets being added or removed are checked.
    """
    if actor is None:
        return
    if not in_scope(actor, data.unit):
        raise ValidationError(
            "Đơn vị soạn nằm ngoài phạm vi của bạn.", {"unit": "Ngoài phạm vi đơn vị của bạn."}
        )
    before = {u.id: u for u in script.targets} if script else {}
    after = {u.id: u for u in data.targets}
    touched = [after.get(i) or before[i] for i in set(before) ^ set(after)]
    outside = sorted(u.name for u in touched if not in_scope(actor, u))
    if outside:
        raise ValidationError(
            "Đơn vị nhận nằm ngoài phạm vi của bạn: " + ", ".join(outside),
            {"targets": "Có đơn vị ngoài phạm vi."},
        )


def _apply_metadata(script: Script, data: ScriptInput) -> dict[str, list]:
    """Copy metadata onto the script and return what changed."""
    changed: dict[str, list] = {}
    for name in (
        "title",
        "campaign",
        "category",
        "priority",
        "source_kind",
        "source_number",
        "source_date",
        "source_issuer",
        "valid_from",
        "valid_until",
    ):
        old, new = getattr(script, name), getattr(data, name)
        if old != new:
            changed[name] = [_plain(old), _plain(new)]
            setattr(script, name, new)
    if script.unit_id != data.unit.id:
        changed["unit"] = [script.unit.code if script.unit else None, data.unit.code]
        script.unit = data.unit
    targets = data.targets or [data.unit]
    if sorted(u.id for u in script.targets) != sorted(u.id for u in targets):
        changed["targets"] = [[u.code for u in script.targets], [u.code for u in targets]]
        script.targets = list(targets)
    return changed


def _plain(value):
    """JSON-friendly form of a metadata value for the audit trail."""
    if isinstance(value, Priority):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    return value


def _refresh_search_text(script: Script, body: str) -> None:
    """Keep the accent-folded search column in step with title, campaign, source and body."""
    script.search_text = fold(
        " ".join([script.title, script.campaign, script.category, script.source_label, body])
    )


def _add_version(script: Script, body: str, actor: User | None, origin: str) -> ScriptVersion:
    """Append a new immutable version and point the script at it."""
    now = clock.now()
    version = ScriptVersion(
        script=script,
        number=script.version_number + 1,
        body=body,
        sha256=body_sha256(body),
        author_id=actor.id if actor else None,
        origin=origin,
        created_at=now,
    )
    db.session.add(version)
    db.session.flush()
    script.version_number = version.number
    script.current_version_id = version.id
    return version


@contextmanager
def _race_guard(conflict: Conflict | str):
    """Run a change and commit it; a lost race anywhere inside becomes a clear Conflict.

    Flushes happen before the commit (a new version needs its id), so a concurrent writer
    can make any of them fail, not only the final commit.
    """
    try:
        yield
        db.session.commit()
    except (IntegrityError, StaleDataError) as exc:
        db.session.rollback()
        raise (Conflict(conflict) if isinstance(conflict, str) else conflict) from exc


def _commit(conflict_message: str) -> None:
    """Commit a change whose session work raises nothing before the commit."""
    with _race_guard(conflict_message):
        pass


def create_script(
    actor: User | None, data: ScriptInput, origin: str = "web", source_key: str | None = None
) -> Script:
    """Create a draft script with its first version."""
    if actor is not None:
        require(actor, Permission.SCRIPT_EDIT)
    data = clean_input(data)
    _check_units(actor, data)
    with _race_guard("Không lưu được kịch bản vì dữ liệu vừa thay đổi; hãy thử lại."):
        script = _insert_script(actor, data, origin, source_key)
    return script


def _insert_script(
    actor: User | None, data: ScriptInput, origin: str, source_key: str | None
) -> Script:
    """Add a new script, its first version and the audit event to the session."""
    now = clock.now()
    script = Script(
        source_key=source_key,
        unit=data.unit,
        status=ScriptStatus.DRAFT,
        priority=data.priority,
        title=data.title,
        dispatch_id=data.dispatch_id,
        created_by_id=actor.id if actor else None,
        created_at=now,
        updated_at=now,
    )
    _apply_metadata(script, data)
    db.session.add(script)
    db.session.flush()
    version = _add_version(script, data.body, actor, origin)
    _refresh_search_text(script, data.body)
    record_event(
        "script.create",
        "script",
        script.id,
        f"Tạo kịch bản “{script.title}” (phiên bản 1)",
        actor=actor,
        unit_id=script.unit_id,
        details={"version": version.number, "origin": origin},
    )
    return script


def update_script(
    actor: User | None,
    script: Script,
    data: ScriptInput,
    expected_revision: int | None,
    origin: str = "web",
) -> tuple[Script, bool]:
    """Save an edit; a changed body makes a new version, any change withdraws approval."""
    if actor is not None:
        require(actor, Permission.SCRIPT_EDIT)
        require_scope(actor, script.unit, "Kịch bản")
    if script.is_programme:
        raise ValidationError("Đây là chương trình phát thanh: hãy sửa trong trang Chương trình.")
    data = clean_input(data)
    _check_units(actor, data, script)
    stale = Conflict(
        "Kịch bản vừa được người khác thay đổi trong lúc bạn sửa. Nội dung bạn nhập vẫn "
        "còn nguyên bên dưới: hãy xem bản mới nhất rồi lưu lại.",
        {"revision": "Đã có thay đổi mới hơn."},
    )
    with _race_guard(stale):
        changed = _apply_update(actor, _lock(script), data, expected_revision, origin, stale)
    return script, changed


def _apply_update(
    actor: User | None,
    script: Script,
    data: ScriptInput,
    expected_revision: int | None,
    origin: str,
    stale: Conflict,
) -> bool:
    """Apply an edit to a locked, freshly read script; return whether anything changed."""
    if script.status == ScriptStatus.ARCHIVED:
        raise ValidationError("Kịch bản đã lưu trữ, không sửa được nữa.")
    if expected_revision is not None and expected_revision != script.revision:
        raise stale
    # Read the current text before anything is changed (a read may flush the session).
    current_body = script.current_version.body
    changed = _apply_metadata(script, data)
    body_changed = data.body != current_body
    if not changed and not body_changed:
        return False
    old_status = script.status
    version = None
    if body_changed:
        version = _add_version(script, data.body, actor, origin)
    if old_status in {ScriptStatus.SUBMITTED, ScriptStatus.APPROVED, ScriptStatus.REJECTED}:
        script.status = ScriptStatus.DRAFT
    script.updated_at = clock.now()
    _refresh_search_text(script, data.body)
    summary = f"Sửa kịch bản “{script.title}”"
    if version:
        summary += f", tạo phiên bản {version.number}"
    if old_status != script.status:
        summary += f"; trạng thái {old_status.label} → {script.status.label}"
    record_event(
        "script.update",
        "script",
        script.id,
        summary,
        actor=actor,
        unit_id=script.unit_id,
        details={
            "changed": changed,
            "version": version.number if version else None,
            "from_status": old_status.value,
            "to_status": script.status.value,
        },
    )
    return True


def _lock(script: Script) -> Script:
    """Re-read the script, locking its row where the database can (PostgreSQL)."""
    return db.session.execute(
        select(Script)
        .where(Script.id == script.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def submit_script(actor: User, script: Script) -> Script:
    """Send the current version to the supervisors."""
    require(actor, Permission.SCRIPT_EDIT)
    require_scope(actor, script.unit, "Kịch bản")
    script = _lock(script)
    if script.status == ScriptStatus.SUBMITTED:
        raise Conflict("Kịch bản đã được gửi duyệt rồi, đang chờ người duyệt.")
    if script.status not in {ScriptStatus.DRAFT, ScriptStatus.REJECTED}:
        raise ValidationError(
            f"Chỉ gửi duyệt được bản nháp hoặc bản bị từ chối; kịch bản đang ở trạng thái "
            f"“{script.status.label}”."
        )
    if script.is_programme:
        from app.programmes.service import check_submittable  # programmes build on scripts

        check_submittable(script)
    render = speech.render_for_submission(script)
    now = clock.now()
    script.status = ScriptStatus.SUBMITTED
    script.submitted_render_id = render.id
    script.submission_seq += 1
    script.submitted_at = now
    script.submitted_by_id = actor.id
    script.updated_at = now
    record_event(
        "script.submit",
        "script",
        script.id,
        f"Gửi duyệt “{script.title}” phiên bản {script.version_number}",
        actor=actor,
        unit_id=script.unit_id,
        details={
            "version": script.version_number,
            "render": render.id,
            "spoken_sha256": render.spoken_sha256,
            "audio_sha256": render.audio_sha256,
        },
    )
    _commit("Kịch bản vừa thay đổi trong lúc gửi duyệt; hãy tải lại trang.")
    return script


def _check_reviewable(actor: User, script: Script, expected_version_id: int | None) -> Script:
    """Common checks before a decision: role, scope, status, version, authorship."""
    require(actor, Permission.SCRIPT_REVIEW)
    require_scope(actor, script.unit, "Kịch bản")
    script = _lock(script)
    if script.status == ScriptStatus.APPROVED and script.approved_version_id == (
        expected_version_id or script.current_version_id
    ):
        raise Conflict("Phiên bản này đã được duyệt rồi.")
    if script.status != ScriptStatus.SUBMITTED:
        raise Conflict(
            f"Kịch bản không còn chờ duyệt (trạng thái hiện tại: {script.status.label})."
        )
    if expected_version_id is not None and expected_version_id != script.current_version_id:
        raise Conflict(
            "Kịch bản vừa có phiên bản mới; hãy xem lại phiên bản mới nhất trước khi quyết định."
        )
    if script.current_version.author_id == actor.id:
        raise PermissionDenied("Bạn không thể tự duyệt phiên bản do chính mình viết.")
    return script


def _reviewed_render(script: Script):
    """The submitted render, checked to be of the current version and unchanged on disk."""
    render = script.submitted_render
    if render is None or render.version_id != script.current_version_id:
        raise Conflict("Bản âm thanh gửi duyệt không còn khớp phiên bản hiện tại.")
    if not speech.verify_audio(render):
        raise Conflict(
            "Tệp âm thanh gửi duyệt đã bị thay đổi hoặc mất trên máy chủ; không thể duyệt. "
            "Hãy từ chối để người soạn tạo lại âm thanh."
        )
    return render


def approve_script(actor: User, script: Script, expected_version_id: int | None = None) -> Script:
    """Approve exactly the current version of a submitted script."""
    script = _check_reviewable(actor, script, expected_version_id)
    version = script.current_version
    render = _reviewed_render(script)
    if script.is_programme:
        # An item may have been archived, expired or replaced since the programme was sent.
        from app.programmes.service import check_items, version_settings

        try:
            check_items(version_settings(version.id))
        except ValidationError as exc:
            raise ValidationError(f"{exc.message} Chưa duyệt được chương trình.") from exc
    if speech.authored_by(render, actor):
        raise PermissionDenied(
            "Bạn đã tải bản ghi âm này lên nên không thể tự duyệt; cần một người duyệt khác."
            if render.engine == "recording"
            else "Bạn không thể tự duyệt âm thanh có văn bản đọc hoặc câu giới thiệu do chính "
            "mình viết; cần một người duyệt khác."
        )
    now = clock.now()
    db.session.add(
        ScriptReview(
            script_id=script.id,
            version_id=version.id,
            submission_seq=script.submission_seq,
            decision=Decision.APPROVED,
            render_id=render.id,
            spoken_sha256=render.spoken_sha256,
            audio_sha256=render.audio_sha256,
            reviewer_id=actor.id,
            created_at=now,
        )
    )
    script.status = ScriptStatus.APPROVED
    script.approved_version_id = version.id
    script.approved_render_id = render.id
    script.updated_at = now
    record_event(
        "script.approve",
        "script",
        script.id,
        f"Duyệt “{script.title}” phiên bản {version.number}",
        actor=actor,
        unit_id=script.unit_id,
        details={
            "version": version.number,
            "sha256": version.sha256,
            "render": render.id,
            "spoken_sha256": render.spoken_sha256,
            "audio_sha256": render.audio_sha256,
        },
    )
    _commit("Kịch bản vừa được người khác xét duyệt; quyết định của bạn không được ghi.")
    return script


def reject_script(
    actor: User, script: Script, reason: str, expected_version_id: int | None = None
) -> Script:
    """Reject the current version with a reason the writer will read."""
    reason = nfc(reason or "").strip()
    if len(reason) < MIN_REASON_CHARS:
        raise ValidationError(
            "Hãy ghi lý do từ chối để người soạn biết cần sửa gì.",
            {"reason": f"Bắt buộc, ít nhất {MIN_REASON_CHARS} ký tự."},
        )
    if len(reason) > 2000:
        raise ValidationError("Lý do tối đa 2.000 ký tự.", {"reason": "Quá dài."})
    script = _check_reviewable(actor, script, expected_version_id)
    version = script.current_version
    now = clock.now()
    db.session.add(
        ScriptReview(
            script_id=script.id,
            version_id=version.id,
            submission_seq=script.submission_seq,
            decision=Decision.REJECTED,
            reason=reason,
            render_id=script.submitted_render_id,
            spoken_sha256=script.submitted_render.spoken_sha256 if script.submitted_render else "",
            audio_sha256=script.submitted_render.audio_sha256 if script.submitted_render else "",
            reviewer_id=actor.id,
            created_at=now,
        )
    )
    script.status = ScriptStatus.REJECTED
    script.updated_at = now
    record_event(
        "script.reject",
        "script",
        script.id,
        f"Từ chối “{script.title}” phiên bản {version.number}: {reason}",
        actor=actor,
        unit_id=script.unit_id,
        details={"version": version.number, "reason": reason},
    )
    _commit("Kịch bản vừa được người khác xét duyệt; quyết định của bạn không được ghi.")
    return script


def stop_airing(condition, now: datetime) -> tuple[int, int]:
    """Stop the active schedules and drop the airings still to air (still_to_air) of what the
    condition names (a Schedule/Airing column condition built by the caller); (stopped,
    removed). Airings claimed, on air or aired stay, with their log rows."""
    from app.schedules.models import Airing, Schedule, ScheduleStatus
    from app.schedules.service import still_to_air  # schedules build on scripts

    schedule_cond, airing_cond = condition(Schedule), condition(Airing)
    stopped = db.session.execute(
        update(Schedule)
        .where(schedule_cond, Schedule.status == ScheduleStatus.ACTIVE)
        .values(status=ScheduleStatus.DELETED, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    removed = db.session.execute(
        delete(Airing)
        .where(airing_cond, still_to_air(now))
        .execution_options(synchronize_session=False)
    ).rowcount
    return stopped, removed


def archive_script(actor: User, script: Script) -> Script:
    """Retire a script; it stays readable with all its versions and decisions.

    A retired script airs no more: its schedules stop and its airings still to come go (those
    on air or already aired stay, with their log rows), on every station, including those aired
    by their agents, which drop them at their next sync. The same goes for every programme
    version that holds it: those programmes' schedules and airings of such a version stop.
    """
    from app.programmes.service import versions_using

    require(actor, Permission.SCRIPT_ARCHIVE)
    require_scope(actor, script.unit, "Kịch bản")
    script = _lock(script)
    if script.status == ScriptStatus.ARCHIVED:
        raise Conflict("Kịch bản đã được lưu trữ rồi.")
    old = script.status
    now = clock.now()
    script.status = ScriptStatus.ARCHIVED
    script.updated_at = now
    stopped, removed = stop_airing(lambda model: model.script_id == script.id, now)
    versions = versions_using(script_id=script.id)
    programmes = sorted(
        db.session.scalars(
            select(ScriptVersion.script_id).where(ScriptVersion.id.in_(versions)).distinct()
        )
    )
    in_programmes = (0, 0)
    if programmes:
        in_programmes = stop_airing(lambda model: model.version_id.in_(versions), now)
    record_event(
        "script.archive",
        "script",
        script.id,
        f"Lưu trữ “{script.title}” (trước đó: {old.label})",
        actor=actor,
        unit_id=script.unit_id,
        details={
            "from_status": old.value,
            "schedules_stopped": stopped,
            "airings_removed": removed,
            "programmes": programmes,
            "programme_schedules_stopped": in_programmes[0],
            "programme_airings_removed": in_programmes[1],
        },
    )
    _commit("Kịch bản vừa thay đổi; hãy tải lại trang.")
    return script


def get_script(actor: User, script_id: int) -> Script:
    """Load a script the actor may see, or raise NotFound."""
    require(actor, Permission.SCRIPT_VIEW)
    script = db.session.get(Script, script_id)
    if script is None:
        raise NotFound("Không tìm thấy kịch bản.")
    require_scope(actor, script.unit, "Kịch bản")
    return script


def get_version(script: Script, number: int) -> ScriptVersion:
    """Load one version of a script by its number."""
    version = db.session.scalar(
        select(ScriptVersion).where(
            ScriptVersion.script_id == script.id, ScriptVersion.number == number
        )
    )
    if version is None:
        raise NotFound(f"Kịch bản không có phiên bản {number}.")
    return version


@dataclass
class ScriptFilter:
    """Search and filters of the script list."""

    q: str = ""
    status: ScriptStatus | None = None
    campaign: str = ""
    unit_id: int | None = None
    priority: Priority | None = None


def _like_escape(term: str) -> str:
    """Escape LIKE wildcards in a user's search term."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _search_terms(q: str) -> list[str]:
    """The accent-folded words of a search, at most ten; a script must contain every one."""
    return re.findall(r"\S+", fold(q))[:10]


def _fts_phrase(term: str) -> str:
    """A term as an FTS5 string: every character literal, double quotes doubled."""
    return '"' + term.replace('"', '""') + '"'


def _indexed_matches(terms: list[str], dialect: str) -> list[int]:
    """Ids of the scripts whose search text contains every term, from the search index.

    Same result as `search_text LIKE '%term%'` for each term (see the search index in
    app/scripts/models.py); terms must be at least SEARCH_MIN_CHARS long.
    """
    if dialect == "sqlite":
        fts = table(SEARCH_TABLE, column("rowid"), column("search_text"))
        match = " ".join(_fts_phrase(term) for term in terms)
        query = select(fts.c.rowid).where(fts.c.search_text.op("MATCH")(match))
    else:
        words = table(SEARCH_WORDS_TABLE, column("id"), column("word"))
        search = table(SEARCH_TABLE, column("script_id"), column("word_ids"))
        # Per term, the ids of every known word containing it; a script must have one of them.
        has_term = [
            search.c.word_ids.op("&&", is_comparison=True)(
                select(func.array_agg(words.c.id))
                .where(words.c.word.like(f"%{_like_escape(term)}%", escape="\\"))
                .scalar_subquery()
            )
            for term in terms
        ]
        query = select(search.c.script_id).where(*has_term)
    return list(db.session.scalars(query))


def _id_among(ids: list[int], dialect: str):
    """Script.id is one of ids, as one bound parameter however many there are."""
    if dialect == "sqlite":
        found = func.json_each(json.dumps(ids)).table_valued("value")
        return Script.id.in_(select(found.c.value))
    return Script.id == any_(literal(ids, ARRAY(Integer)))


def _search_conditions(q: str) -> list:
    """WHERE clauses for an accent-insensitive substring search of every word of q.

    Terms of SEARCH_MIN_CHARS or more go through the search index; shorter ones are checked
    with LIKE on the scripts the index found (or on every script, if all terms are short).
    """
    terms = _search_terms(q)
    dialect = db.session.get_bind().dialect.name
    indexed = [t for t in terms if len(t) >= SEARCH_MIN_CHARS]
    if dialect not in {"sqlite", "postgresql"}:
        indexed = []
    # The index is read once, here, rather than in both the count and the page query.
    conditions = [_id_among(_indexed_matches(indexed, dialect), dialect)] if indexed else []
    conditions += [
        Script.search_text.like(f"%{_like_escape(term)}%", escape="\\")
        for term in terms
        if len(term) < SEARCH_MIN_CHARS or not indexed
    ]
    return conditions


def scripts_query(actor: User, filters: ScriptFilter):
    """Select the scripts the actor may see that match the filters, newest change first."""
    require(actor, Permission.SCRIPT_VIEW)
    query = (
        select(Script)
        .join(Unit, Unit.id == Script.unit_id)
        .where(Unit.path.startswith(actor.unit.path))
        .options(defer(Script.search_text))
        .order_by(Script.updated_at.desc(), Script.id.desc())
    )
    query = query.where(*_search_conditions(filters.q))
    if filters.status:
        query = query.where(Script.status == filters.status)
    if filters.campaign:
        query = query.where(Script.campaign == filters.campaign)
    if filters.priority:
        query = query.where(Script.priority == filters.priority)
    if filters.unit_id:
        unit = db.session.get(Unit, filters.unit_id)
        if unit is None or not in_scope(actor, unit):
            raise ValidationError("Đơn vị lọc không hợp lệ.", {"unit": "Ngoài phạm vi."})
        query = query.where(Unit.path.startswith(unit.path))
    return query


def _subtree_ids(actor: User):
    """Ids of the units in the actor's subtree, as a subquery.

    An IN over this lets the planner read the (unit_id, …) covering indexes of scripts; a join
    on the path made SQLite scan every script row instead (9 times slower on 10,000 scripts).
    """
    return select(Unit.id).where(Unit.path.startswith(actor.unit.path))


def campaigns_for(actor: User) -> list[str]:
    """Campaign names used in the actor's subtree, for the filter list."""
    return list(
        db.session.scalars(
            select(Script.campaign)
            .where(Script.unit_id.in_(_subtree_ids(actor)), Script.campaign != "")
            .group_by(Script.campaign)
            .order_by(Script.campaign)
        )
    )


def pending_reviews(actor: User) -> list[Script]:
    """Submitted scripts the supervisor may decide on, oldest first."""
    require(actor, Permission.SCRIPT_REVIEW)
    return list(
        db.session.scalars(
            select(Script)
            .join(Unit, Unit.id == Script.unit_id)
            .where(Unit.path.startswith(actor.unit.path), Script.status == ScriptStatus.SUBMITTED)
            .options(defer(Script.search_text))
            .order_by(Script.submitted_at)
        )
    )


def count_by_status(actor: User) -> dict[ScriptStatus, int]:
    """Number of scripts per status in the actor's subtree."""
    rows = db.session.execute(
        select(Script.status, func.count())
        .where(Script.unit_id.in_(_subtree_ids(actor)))
        .group_by(Script.status)
    )
    return {status: n for status, n in rows}


# A word with the spaces after it, so changed runs of words come out whole.
_TOKEN = re.compile(r"\s+|\S+\s*")


def diff_versions(old: str, new: str) -> list[tuple[str, str]]:
    """Word-level diff as (op, text) pairs, op being 'equal', 'delete' or 'insert'."""
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    out: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out.append(("equal", "".join(a[i1:i2])))
            continue
        if op in {"replace", "delete"}:
            out.append(("delete", "".join(a[i1:i2])))
        if op in {"replace", "insert"}:
            out.append(("insert", "".join(b[j1:j2])))
    return out
