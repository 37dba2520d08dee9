"""Scripts, their immutable versions and review decisions."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum

from sqlalchemy import (
    Column,
    Date,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.core.models import AppendOnly, enum_column, protect_table
from app.core.types import UTCDateTime
from app.extensions import db, migrate
from app.org.models import Unit
from app.speech.models import Render

MAX_BODY_CHARS = 20_000


class Priority(str, Enum):
    """Circular 39/2020/TT-BTTTT priorities."""

    NORMAL = "normal"
    HIGH = "priority"
    EMERGENCY = "emergency"

    @property
    def label(self) -> str:
        """Vietnamese name of the priority."""
        return PRIORITY_LABELS[self]


PRIORITY_LABELS = {
    Priority.NORMAL: "thông thường",
    Priority.HIGH: "ưu tiên",
    Priority.EMERGENCY: "khẩn cấp",
}


class ScriptStatus(str, Enum):
    """Where a script stands in the review workflow."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    ARCHIVED = "archived"

    @property
    def label(self) -> str:
        """Vietnamese name of the status."""
        return STATUS_LABELS[self]


STATUS_LABELS = {
    ScriptStatus.DRAFT: "Bản nháp",
    ScriptStatus.SUBMITTED: "Chờ duyệt",
    ScriptStatus.APPROVED: "Đã duyệt",
    ScriptStatus.REJECTED: "Bị từ chối",
    ScriptStatus.ARCHIVED: "Lưu trữ",
}


class Decision(str, Enum):
    """A supervisor's decision on a submitted version."""

    APPROVED = "approved"
    REJECTED = "rejected"


script_targets = Table(
    "script_targets",
    db.metadata,
    Column("script_id", ForeignKey("scripts.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_id", ForeignKey("units.id"), primary_key=True),
)


class Script(db.Model):
    """A radio script: its metadata and a pointer to its current immutable version."""

    __tablename__ = "scripts"
    __table_args__ = (
        Index("ix_scripts_unit_updated", "unit_id", "updated_at"),
        Index("ix_scripts_updated", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stable key of a script imported from scripts_vi/ (the file name without .md).
    source_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    # sha256 of the source file as last imported: an unchanged file is skipped even when the
    # script was edited on the web since.
    source_sha256: Mapped[str | None] = mapped_column(String(64))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    campaign: Mapped[str] = mapped_column(String(200), default="", index=True)
    category: Mapped[str] = mapped_column(String(120), default="")
    priority: Mapped[Priority] = mapped_column(enum_column(Priority), index=True)
    source_kind: Mapped[str] = mapped_column(String(60), default="")
    source_number: Mapped[str] = mapped_column(String(80), default="")
    source_date: Mapped[date | None] = mapped_column(Date())
    source_issuer: Mapped[str] = mapped_column(String(300), default="")
    valid_from: Mapped[date | None] = mapped_column(Date())
    valid_until: Mapped[date | None] = mapped_column(Date())
    status: Mapped[ScriptStatus] = mapped_column(enum_column(ScriptStatus), index=True)
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("script_versions.id", use_alter=True, name="fk_scripts_current_version")
    )
    approved_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("script_versions.id", use_alter=True, name="fk_scripts_approved_version")
    )
    # The finished render sent for review, and the one a supervisor approved: the audio that airs.
    submitted_render_id: Mapped[int | None] = mapped_column(
        ForeignKey("renders.id", use_alter=True, name="fk_scripts_submitted_render")
    )
    approved_render_id: Mapped[int | None] = mapped_column(
        ForeignKey("renders.id", use_alter=True, name="fk_scripts_approved_render")
    )
    # Optimistic lock: every UPDATE bumps it; an edit must name the revision it started from.
    revision: Mapped[int] = mapped_column(default=1)
    version_number: Mapped[int] = mapped_column(default=0)
    # Counts submissions; a review decision is unique per (script, submission).
    submission_seq: Mapped[int] = mapped_column(default=0)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Accent-folded title, campaign, source and body, for accent-insensitive search.
    search_text: Mapped[str] = mapped_column(Text, default="")

    __mapper_args__ = {"version_id_col": revision}

    unit: Mapped[Unit] = relationship()
    targets: Mapped[list[Unit]] = relationship(secondary=script_targets, order_by=Unit.code)
    current_version: Mapped[ScriptVersion | None] = relationship(
        foreign_keys=[current_version_id], viewonly=True
    )
    approved_version: Mapped[ScriptVersion | None] = relationship(
        foreign_keys=[approved_version_id], viewonly=True
    )
    submitted_render: Mapped[Render | None] = relationship(
        foreign_keys=[submitted_render_id], viewonly=True
    )
    approved_render: Mapped[Render | None] = relationship(
        foreign_keys=[approved_render_id], viewonly=True
    )
    versions: Mapped[list[ScriptVersion]] = relationship(
        back_populates="script",
        foreign_keys="ScriptVersion.script_id",
        order_by="ScriptVersion.number",
    )
    reviews: Mapped[list[ScriptReview]] = relationship(
        back_populates="script", order_by="ScriptReview.created_at"
    )
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])

    @property
    def source_label(self) -> str:
        """The source as officials cite it, e.g. 'Công văn 855/BCĐ-TBTTTT ngày 30/8/2021'."""
        parts = [p for p in (self.source_kind, self.source_number) if p]
        if self.source_date:
            d = self.source_date
            parts.append(f"ngày {d.day}/{d.month}/{d.year}")
        return " ".join(parts)

    @property
    def latest_review(self) -> ScriptReview | None:
        """The most recent decision, if any."""
        return self.reviews[-1] if self.reviews else None


class ScriptVersion(AppendOnly, db.Model):
    """One saved body of a script; never changed once written."""

    __tablename__ = "script_versions"
    __table_args__ = (UniqueConstraint("script_id", "number", name="uq_script_versions_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    script_id: Mapped[int] = mapped_column(ForeignKey("scripts.id"), index=True)
    number: Mapped[int]
    body: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Where the version came from: "web", "api" or "import:<file name>".
    origin: Mapped[str] = mapped_column(String(200), default="web")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    script: Mapped[Script] = relationship(back_populates="versions", foreign_keys=[script_id])
    author: Mapped[User | None] = relationship()

    @property
    def author_name(self) -> str:
        """Who wrote the version, for display."""
        if self.author:
            return self.author.full_name
        return "Nhập từ tệp" if self.origin.startswith("import") else "Hệ thống"


class ScriptReview(AppendOnly, db.Model):
    """A supervisor's decision on one submission of one version."""

    __tablename__ = "script_reviews"
    __table_args__ = (
        UniqueConstraint("script_id", "submission_seq", name="uq_script_reviews_submission"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    script_id: Mapped[int] = mapped_column(ForeignKey("scripts.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("script_versions.id"))
    submission_seq: Mapped[int]
    decision: Mapped[Decision] = mapped_column(enum_column(Decision))
    reason: Mapped[str] = mapped_column(Text, default="")
    # What the supervisor heard: the render, its spoken text and its audio, bound by hash.
    render_id: Mapped[int | None] = mapped_column(ForeignKey("renders.id"))
    spoken_sha256: Mapped[str] = mapped_column(String(64), default="")
    audio_sha256: Mapped[str] = mapped_column(String(64), default="")
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    script: Mapped[Script] = relationship(back_populates="reviews")
    version: Mapped[ScriptVersion] = relationship()
    render: Mapped[Render | None] = relationship()
    reviewer: Mapped[User] = relationship()


protect_table(ScriptVersion.__table__)
protect_table(ScriptReview.__table__)


# Substring search over Script.search_text, kept by the database itself so that every writer
# (the service, imports, bulk loads) keeps it in step. SQLite: an FTS5 table with the trigram
# tokenizer over the column (external content, so the text is not stored twice), filled by
# triggers. PostgreSQL: a pg_trgm GIN index, which LIKE '%term%' uses directly.
SEARCH_TABLE = "scripts_search"
SEARCH_INDEX = "ix_scripts_search_trgm"
# The trigram tokenizer indexes three characters at a time: shorter terms cannot use it.
SEARCH_MIN_CHARS = 3


def search_index_ddl(dialect: str) -> list[str]:
    """SQL that creates the search index of the scripts table (after the table exists)."""
    if dialect == "sqlite":
        remove = (
            f"INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}, rowid, search_text) "
            "VALUES ('delete', old.id, old.search_text);"
        )
        add = f"INSERT INTO {SEARCH_TABLE}(rowid, search_text) VALUES (new.id, new.search_text);"
        return [
            f"CREATE VIRTUAL TABLE {SEARCH_TABLE} USING fts5(search_text, content='scripts', "
            "content_rowid='id', tokenize='trigram case_sensitive 1')",
            f"CREATE TRIGGER {SEARCH_TABLE}_insert AFTER INSERT ON scripts BEGIN {add} END",
            f"CREATE TRIGGER {SEARCH_TABLE}_delete AFTER DELETE ON scripts BEGIN {remove} END",
            f"CREATE TRIGGER {SEARCH_TABLE}_update AFTER UPDATE OF id, search_text ON scripts "
            f"BEGIN {remove} {add} END",
        ]
    if dialect == "postgresql":
        return [
            # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
            "CREATE EXTENSION IF NOT EXISTS pg_trgm",
            f"CREATE INDEX {SEARCH_INDEX} ON scripts USING gin (search_text gin_trgm_ops)",
        ]
    return []


def drop_search_index_ddl(dialect: str) -> list[str]:
    """SQL that removes the search index (the extension stays: others may use it)."""
    if dialect == "sqlite":
        return [
            *(
                f"DROP TRIGGER IF EXISTS {SEARCH_TABLE}_{op}"
                for op in ("insert", "delete", "update")
            ),
            f"DROP TABLE IF EXISTS {SEARCH_TABLE}",
        ]
    if dialect == "postgresql":
        return [f"DROP INDEX IF EXISTS {SEARCH_INDEX}"]
    return []


@event.listens_for(Script.__table__, "after_create")
def _create_search_index(target, connection, **kw) -> None:
    """Create the search index whenever the table is created outside migrations."""
    for statement in search_index_ddl(connection.dialect.name):
        connection.exec_driver_sql(statement)


@event.listens_for(Script.__table__, "before_drop")
def _drop_search_index(target, connection, **kw) -> None:
    """Drop the FTS table with the scripts table, so that create_all can make it again."""
    for statement in drop_search_index_ddl(connection.dialect.name):
        connection.exec_driver_sql(statement)


def _is_search_index(name: str | None, type_: str) -> bool:
    """Whether a database object is part of the hand-made search index."""
    if type_ == "table":
        return name == SEARCH_TABLE or (name or "").startswith(f"{SEARCH_TABLE}_")
    return type_ == "index" and name == SEARCH_INDEX


def _chain_include_name(previous):
    """An Alembic include_name hook that hides the search index from autogenerate."""

    def include_name(name, type_, parent_names) -> bool:
        if _is_search_index(name, type_):
            return False
        return previous(name, type_, parent_names) if previous else True

    return include_name


# The FTS5 table (and its shadow tables) and the GIN index are not part of the metadata;
# without this, `flask db migrate` would propose to drop them.
migrate.alembic_ctx_kwargs["include_name"] = _chain_include_name(
    migrate.alembic_ctx_kwargs.get("include_name")
)
