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
from app.extensions import db
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
        # Covering indexes for the per-status counts and the campaign filter list: without
        # them every list page reads every (long) script row of the subtree.
        Index("ix_scripts_unit_status", "unit_id", "status"),
        Index("ix_scripts_unit_campaign", "unit_id", "campaign"),
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
    # "spot" (one text read or recorded) or "programme" (a rundown: app.programmes).
    kind: Mapped[str] = mapped_column(String(16), default="spot", server_default="spot")
    source_number: Mapped[str] = mapped_column(String(80), default="")
    source_date: Mapped[date | None] = mapped_column(Date())
    source_issuer: Mapped[str] = mapped_column(String(300), default="")
    # The dispatch this script was drafted from (app.dispatches), if any.
    dispatch_id: Mapped[int | None] = mapped_column(
        ForeignKey("dispatches.id", use_alter=True, name="fk_scripts_dispatch"), index=True
    )
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
    def is_programme(self) -> bool:
        """A programme's audio is mixed from its rundown (app.programmes), not read aloud."""
        return self.kind == "programme"

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


# Accent-insensitive substring search over Script.search_text needs an index that a plain
# LIKE '%term%' cannot have. The database maintains it itself (triggers), so that every writer
# of scripts (the service, imports, bulk loads) keeps it in step. None of it is in the metadata:
# after_create below and the fast_search migration create it; Alembic autogenerate ignores it.
#
# SQLite: scripts_search, an FTS5 table with the trigram tokenizer over search_text (external
# content: the text is not stored twice). A term of three or more characters is a phrase of
# trigrams, which matches exactly where the term is a substring.
#
# PostgreSQL: a trigram index over the text finds nearly every script for common terms (their
# trigrams occur everywhere), and rechecking thousands of long texts is slow. So a search term,
# which never contains whitespace, is looked up in the vocabulary instead: a term occurs in a
# text exactly when it occurs in one of the text's whitespace-separated words.
# scripts_search_words holds every word ever indexed (pg_trgm index: LIKE '%term%' is fast on
# short strings) and scripts_search the ids of each script's words (GIN index: &&).
SEARCH_TABLE = "scripts_search"
SEARCH_WORDS_TABLE = "scripts_search_words"
# The trigram tokenizer indexes three characters at a time: shorter terms cannot use it.
SEARCH_MIN_CHARS = 3
_SQLITE_TRIGGERS = ("insert", "update", "delete")

# PostgreSQL splits words only on ASCII whitespace, which Python's \s (used to split the query
# into terms) also matches: a word may be longer than Python would split it, never shorter, so
# a term always lies inside one word.
_PG_WORD_IDS = r"""
CREATE OR REPLACE FUNCTION loa_search_word_ids(body text) RETURNS integer[]
LANGUAGE plpgsql AS $$
DECLARE
    known integer[];
    missing text[];
    added integer[];
BEGIN
    SELECT array_agg(v.id) FILTER (WHERE v.id IS NOT NULL),
           array_agg(w.word) FILTER (WHERE v.id IS NULL)
    INTO known, missing
    FROM (
        SELECT DISTINCT word FROM regexp_split_to_table(body, '[ \t\n\r\f\v]+') AS word
        WHERE word <> ''
    ) AS w
    LEFT JOIN scripts_search_words AS v ON v.word = w.word;
    IF missing IS NOT NULL THEN
        -- Two writers adding the same new word both insert it: the duplicate is harmless,
        -- as a search takes every id of every matching word.
        WITH ins AS (
            INSERT INTO scripts_search_words (word) SELECT unnest(missing) RETURNING id
        )
        SELECT array_agg(id) INTO added FROM ins;
    END IF;
    RETURN coalesce(known, '{}') || coalesce(added, '{}');
END $$
""".strip()
_PG_SYNC = """
CREATE OR REPLACE FUNCTION loa_scripts_search_sync() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO scripts_search (script_id, word_ids)
    VALUES (NEW.id, loa_search_word_ids(NEW.search_text))
    ON CONFLICT (script_id) DO UPDATE SET word_ids = EXCLUDED.word_ids;
    RETURN NULL;
END $$
""".strip()


def search_index_ddl(dialect: str) -> list[str]:
    """SQL that creates the search index of an existing scripts table (still empty)."""
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
            f"CREATE TABLE {SEARCH_WORDS_TABLE} ("
            "id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, word text NOT NULL)",
            # Hash, not btree: a word may be longer than a btree entry can be.
            f"CREATE INDEX {SEARCH_WORDS_TABLE}_word ON {SEARCH_WORDS_TABLE} USING hash (word)",
            f"CREATE INDEX {SEARCH_WORDS_TABLE}_trgm ON {SEARCH_WORDS_TABLE} "
            "USING gin (word gin_trgm_ops)",
            f"CREATE TABLE {SEARCH_TABLE} ("
            "script_id integer PRIMARY KEY REFERENCES scripts (id) ON DELETE CASCADE, "
            "word_ids integer[] NOT NULL)",
            f"CREATE INDEX {SEARCH_TABLE}_word_ids ON {SEARCH_TABLE} USING gin (word_ids)",
            _PG_WORD_IDS,
            _PG_SYNC,
            f"CREATE TRIGGER {SEARCH_TABLE}_sync AFTER INSERT OR UPDATE OF search_text "
            "ON scripts FOR EACH ROW EXECUTE FUNCTION loa_scripts_search_sync()",
        ]
    return []


def search_backfill_sql(dialect: str) -> list[str]:
    """SQL that indexes the scripts already there (after search_index_ddl)."""
    if dialect == "sqlite":
        return [f"INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}) VALUES ('rebuild')"]
    if dialect == "postgresql":
        return [
            f"INSERT INTO {SEARCH_TABLE} (script_id, word_ids) "
            "SELECT id, loa_search_word_ids(search_text) FROM scripts ORDER BY id",
            f"ANALYZE {SEARCH_WORDS_TABLE}",
            f"ANALYZE {SEARCH_TABLE}",
        ]
    return []


def drop_search_index_ddl(dialect: str) -> list[str]:
    """SQL that removes the search index (pg_trgm stays: something else may use it)."""
    if dialect == "sqlite":
        return [
            *(f"DROP TRIGGER IF EXISTS {SEARCH_TABLE}_{op}" for op in _SQLITE_TRIGGERS),
            f"DROP TABLE IF EXISTS {SEARCH_TABLE}",
        ]
    if dialect == "postgresql":
        return [
            f"DROP TRIGGER IF EXISTS {SEARCH_TABLE}_sync ON scripts",
            f"DROP TABLE IF EXISTS {SEARCH_TABLE}",
            f"DROP TABLE IF EXISTS {SEARCH_WORDS_TABLE}",
            "DROP FUNCTION IF EXISTS loa_scripts_search_sync()",
            "DROP FUNCTION IF EXISTS loa_search_word_ids(text)",
        ]
    return []


@event.listens_for(Script.__table__, "after_create")
def _create_search_index(target, connection, **kw) -> None:
    """Create the search index whenever the table is created outside migrations."""
    for statement in search_index_ddl(connection.dialect.name):
        connection.exec_driver_sql(statement)


@event.listens_for(Script.__table__, "before_drop")
def _drop_search_index(target, connection, **kw) -> None:
    """Drop the search index first: it depends on the scripts table."""
    for statement in drop_search_index_ddl(connection.dialect.name):
        connection.exec_driver_sql(statement)


def include_in_migrations(name, type_, parent_names) -> bool:
    """Alembic include_name hook: the search tables are not in the metadata, so autogenerate
    must not propose to drop them (nor, on SQLite, the FTS5 shadow tables)."""
    return not (type_ == "table" and (name == SEARCH_TABLE or name.startswith(f"{SEARCH_TABLE}_")))
