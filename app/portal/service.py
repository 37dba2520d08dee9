"""What the public sees: a unit's approved announcements in their validity, with the exact
approved audio, and nothing else.

An announcement is on a unit's portal when its script is approved now, the approved version's
approved render is finished and its file on disk is the audio the supervisor approved (same
sha256), today (Asia/Ho_Chi_Minh) lies in its validity (an open end counts as open), and the
script belongs to the unit or a unit below it, or targets one of those units. So a district's
portal shows its communes' announcements too, and a commune's portal shows the province's
announcements aimed at it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

from sqlalchemy import and_, func, or_, select

from app.core import clock
from app.core.clock import LOCAL_TZ
from app.core.errors import NotFound
from app.extensions import db
from app.org.models import Unit
from app.scripts.models import (
    Decision,
    Priority,
    Script,
    ScriptReview,
    ScriptStatus,
    ScriptVersion,
    script_targets,
)
from app.speech.models import Render, RenderStatus
from app.speech.pipeline import sha256_file
from app.speech.service import audio_dir

MAX_CODE_CHARS = 40
UNIT_NOT_FOUND = "Không có trang thông tin của đơn vị này."
AUDIO_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav"}

# Circular 39/2020/TT-BTTTT sorts what is pushed to commune stations into three kinds by how
# it must be aired; the upward feed and the podcast feed name them with these codes.
TT39_CATEGORIES = {
    Priority.NORMAL: ("thong_thuong", "Thông thường"),
    Priority.HIGH: ("uu_tien", "Ưu tiên"),
    Priority.EMERGENCY: ("khan_cap", "Khẩn cấp"),
}


@dataclass(frozen=True)
class Announcement:
    """One approved announcement as the public sees it."""

    script: Script
    version: ScriptVersion
    render: Render
    approved_at: datetime
    # The approved audio file, or None when it is no longer on disk as approved.
    audio: Path | None

    @property
    def ext(self) -> str:
        """The audio file's extension (its real format: mp3 or wav)."""
        return self.render.audio_format

    @property
    def mimetype(self) -> str:
        """The audio's media type."""
        return AUDIO_TYPES.get(self.render.audio_format, "application/octet-stream")

    @property
    def audio_bytes(self) -> int | None:
        """The audio file's exact length in bytes."""
        return self.audio.stat().st_size if self.audio else None

    @property
    def guid(self) -> str:
        """Stable for one approved version and render: a new approval is a new item."""
        return f"loa-script-{self.script.id}-v{self.version.number}-render-{self.render.id}"

    @property
    def tt39(self) -> tuple[str, str]:
        """The TT 39/2020 category: code and Vietnamese label."""
        return TT39_CATEGORIES[self.script.priority]


def today() -> date:
    """Today in Vietnam, whatever the server's time zone."""
    return clock.now().astimezone(LOCAL_TZ).date()


def local_midnight(day: date) -> datetime:
    """The start of a Vietnamese day, in UTC."""
    return datetime.combine(day, time(), LOCAL_TZ).astimezone(UTC)


def public_unit(code: str) -> Unit:
    """The active unit with this code (any case), or NotFound."""
    code = (code or "").strip().upper()
    if not code or len(code) > MAX_CODE_CHARS:
        raise NotFound(UNIT_NOT_FOUND)
    unit = db.session.scalar(select(Unit).where(Unit.code == code, Unit.active.is_(True)))
    if unit is None:
        raise NotFound(UNIT_NOT_FOUND)
    return unit


def subtree_ids(unit: Unit):
    """SELECT of the ids of the unit and every unit below it."""
    return select(Unit.id).where(Unit.path.startswith(unit.path))


def _in_reach(unit: Unit):
    """Scripts of the unit's subtree, or aimed at a unit of it."""
    ids = subtree_ids(unit)
    targeted = select(script_targets.c.script_id).where(script_targets.c.unit_id.in_(ids))
    return or_(Script.unit_id.in_(ids), Script.id.in_(targeted))


def approval_join():
    """The review that approved exactly the script's approved version and render."""
    return and_(
        ScriptReview.script_id == Script.id,
        ScriptReview.submission_seq == Script.submission_seq,
        ScriptReview.decision == Decision.APPROVED,
        ScriptReview.version_id == Script.approved_version_id,
        ScriptReview.render_id == Script.approved_render_id,
        ScriptReview.audio_sha256 == Render.audio_sha256,
    )


def approved_rows(condition, day: date):
    """SELECT (Script, ScriptVersion, Render, approved at) of approved scripts meeting the
    condition whose validity holds on the day, newest approval first."""
    return (
        select(Script, ScriptVersion, Render, ScriptReview.created_at)
        .join(ScriptVersion, ScriptVersion.id == Script.approved_version_id)
        .join(Render, Render.id == Script.approved_render_id)
        .join(ScriptReview, approval_join())
        .where(
            condition,
            Script.status == ScriptStatus.APPROVED,
            Script.current_version_id == Script.approved_version_id,
            Render.status == RenderStatus.DONE,
            Render.version_id == Script.approved_version_id,
            or_(Script.valid_from.is_(None), Script.valid_from <= day),
            or_(Script.valid_until.is_(None), Script.valid_until >= day),
        )
        .order_by(ScriptReview.created_at.desc(), Script.id.desc())
    )


# sha256 of approved files already checked, keyed by (path, size, mtime): a player fetches the
# same file in several Range requests, and a page lists many files.
_checked: dict[tuple[str, int, int], str] = {}
_checked_lock = threading.Lock()
_CHECKED_MAX = 2048


def approved_file(render: Render) -> Path | None:
    """The render's audio file when it is on disk exactly as approved (its sha256), else
    None."""
    if not render.audio_path or not render.audio_sha256:
        return None
    path = audio_dir() / render.audio_path
    try:
        stat = path.stat()
    except OSError:
        return None
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _checked_lock:
        known = _checked.get(key)
    if known is None:
        known = sha256_file(path)
        with _checked_lock:
            if len(_checked) >= _CHECKED_MAX:
                _checked.clear()
            _checked[key] = known
    return path if known == render.audio_sha256 else None


def announcements(unit: Unit, day: date | None = None) -> list[Announcement]:
    """The unit's public announcements on the day (default today), newest approval first."""
    day = day or today()
    rows = db.session.execute(approved_rows(_in_reach(unit), day)).all()
    return [
        Announcement(script, version, render, approved_at, approved_file(render))
        for script, version, render, approved_at in rows
    ]


def public_audio(unit: Unit, render_id: int, ext: str) -> Announcement:
    """The announcement of the unit's portal whose approved audio is this render, with its
    file; NotFound for anything else (not approved, superseded, expired, not yet valid,
    another unit's, another format, or the file changed on disk)."""
    for item in announcements(unit):
        if item.render.id == render_id and item.ext == ext and item.audio is not None:
            return item
    raise NotFound("Không có tệp âm thanh này.")


def last_modified(unit: Unit, day: date | None = None) -> datetime:
    """When what the unit's portal shows last changed: the latest change of any script in its
    reach (approval, edit, archiving all touch updated_at), or the start of today, when
    validity may have begun or ended."""
    day = day or today()
    latest = db.session.scalar(select(func.max(Script.updated_at)).where(_in_reach(unit)))
    if isinstance(latest, str):  # SQLite aggregates bypass the column type
        latest = datetime.fromisoformat(latest)
    if latest is not None and latest.tzinfo is None:
        latest = latest.replace(tzinfo=UTC)
    midnight = local_midnight(day)
    return max(latest, midnight) if latest else midnight
