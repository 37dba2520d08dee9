"""Users, their login sessions and their API tokens."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.models import enum_column
from app.core.types import UTCDateTime
from app.extensions import db
from app.org.models import Unit


class Role(str, Enum):
    """What a user does at the station."""

    WRITER = "writer"
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        """Vietnamese name of the role."""
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.WRITER: "Cán bộ biên soạn",
    Role.OPERATOR: "Kỹ thuật viên phát thanh",
    Role.SUPERVISOR: "Người duyệt",
    Role.ADMIN: "Quản trị",
}


class User(UserMixin, db.Model):
    """A person who logs in; belongs to one unit and acts on its subtree only."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[Role] = mapped_column(enum_column(Role))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    must_change_password: Mapped[bool] = mapped_column(default=False)
    # Unused since login throttling moved to app/auth/throttle.py and sessions to
    # LoginSession; kept so existing databases and bench/web.py need no change.
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    session_version: Mapped[int] = mapped_column(default=1)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    unit: Mapped[Unit] = relationship()
    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", order_by="ApiToken.created_at.desc()"
    )

    @property
    def is_active(self) -> bool:
        """Flask-Login: deactivated users cannot log in."""
        return self.active

    # The key of the login session this object was loaded for (not a column).
    session_key = None

    def get_id(self) -> str:
        """Flask-Login id: the user and the key of their server-side login session."""
        return f"{self.id}.{self.session_key}"

    def __repr__(self) -> str:
        return f"<User {self.username}>"


class LoginSession(db.Model):
    """One signed-in browser; the session cookie works only while its row is not ended."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # sha256 of the random key carried in the signed cookie.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class ApiToken(db.Model):
    """A per-user API token; only its sha256 is stored, the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(back_populates="tokens")
