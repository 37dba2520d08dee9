"""Feed tokens: an admin issues one per unit for the provincial source information system
(shown once, stored as a sha256), revokes it; every issue and revocation is audited."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.audit.service import record_event
from app.auth.models import User
from app.auth.permissions import Permission, in_scope, require
from app.core import clock
from app.core.errors import Conflict, NotFound, ValidationError
from app.extensions import db
from app.org.models import Unit
from app.portal.models import FeedToken

FEED_TOKEN_PREFIX = "loa_feed_"
NAME_CHARS = 100
# last_used_at is written at most this often per token: a poll every minute need not write.
USED_EVERY_S = 60


def _hash(plaintext: str) -> str:
    """Tokens are long and random, so a plain sha256 is enough and allows lookup by hash."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


def units_in_scope(actor: User) -> list[Unit]:
    """The active units an admin may issue feed tokens for: their own subtree."""
    return list(
        db.session.scalars(
            select(Unit)
            .where(Unit.path.startswith(actor.unit.path), Unit.active.is_(True))
            .order_by(Unit.path)
        )
    )


def tokens_in_scope(actor: User) -> list[FeedToken]:
    """Feed tokens of the admin's subtree, live first, newest first."""
    return list(
        db.session.scalars(
            select(FeedToken)
            .join(Unit, FeedToken.unit_id == Unit.id)
            .where(Unit.path.startswith(actor.unit.path))
            .options(selectinload(FeedToken.unit), selectinload(FeedToken.created_by))
            .order_by(FeedToken.revoked_at.is_not(None), FeedToken.created_at.desc())
        )
    )


def issue_feed_token(actor: User, unit: Unit, name: str) -> tuple[FeedToken, str]:
    """Issue a feed token reading the unit's subtree; return it and its plaintext, which is
    never stored."""
    require(actor, Permission.ADMIN)
    if not in_scope(actor, unit) or not unit.active:
        raise NotFound("Đơn vị không tồn tại hoặc nằm ngoài phạm vi đơn vị của bạn.")
    name = " ".join((name or "").split()) or f"Hệ thống thông tin nguồn – {unit.name}"
    if len(name) > NAME_CHARS:
        message = f"Tên mã tối đa {NAME_CHARS} ký tự."
        raise ValidationError(message, {"name": message})
    plaintext = FEED_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = FeedToken(
        unit=unit,
        name=name[:NAME_CHARS],
        prefix=plaintext[: len(FEED_TOKEN_PREFIX) + 6],
        token_hash=_hash(plaintext),
        created_by_id=actor.id,
        created_at=clock.now(),
    )
    db.session.add(token)
    db.session.flush()
    record_event(
        "feed_token.create",
        "feed_token",
        token.id,
        f"Cấp mã đọc nguồn tin “{token.name}” cho {unit.name}",
        actor=actor,
        unit_id=unit.id,
        details={"prefix": token.prefix},
    )
    db.session.commit()
    return token, plaintext


def revoke_feed_token(actor: User, token_id: int) -> FeedToken:
    """Revoke a feed token of the admin's subtree; it stops working at once."""
    require(actor, Permission.ADMIN)
    token = db.session.get(FeedToken, token_id)
    if token is None or not in_scope(actor, token.unit):
        raise NotFound("Không tìm thấy mã đọc nguồn tin này.")
    if token.revoked_at is not None:
        raise Conflict("Mã này đã bị thu hồi rồi.")
    token.revoked_at = clock.now()
    token.revoked_by_id = actor.id
    record_event(
        "feed_token.revoke",
        "feed_token",
        token.id,
        f"Thu hồi mã đọc nguồn tin “{token.name}” của {token.unit.name}",
        actor=actor,
        unit_id=token.unit_id,
        details={"prefix": token.prefix},
    )
    db.session.commit()
    return token


def token_for(plaintext: str) -> FeedToken | None:
    """The live feed token with this plaintext (its unit active), noting its use; else
    None."""
    if not plaintext.startswith(FEED_TOKEN_PREFIX) or len(plaintext) > 200:
        return None
    token = db.session.scalar(select(FeedToken).where(FeedToken.token_hash == _hash(plaintext)))
    if token is None or token.revoked_at is not None or not token.unit.active:
        return None
    now = clock.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() >= USED_EVERY_S:
        token.last_used_at = now
        db.session.commit()
    return token
