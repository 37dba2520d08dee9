"""Model helpers: enum columns and the append-only guard."""

from __future__ import annotations

from enum import Enum

from sqlalchemy import Enum as SAEnum
from sqlalchemy import Table, event
from sqlalchemy.orm import Session


def enum_column(enum_cls: type[Enum]) -> SAEnum:
    """Store a str Enum by value as a plain string column (portable across databases)."""
    return SAEnum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=24,
        values_callable=lambda members: [m.value for m in members],
    )


class AppendOnly:
    """Marker for rows that are never updated or deleted once written."""


class AppendOnlyViolation(RuntimeError):
    """Raised when code tries to change or remove an append-only row."""


@event.listens_for(Session, "before_flush")
def _guard_append_only(session: Session, flush_context, instances) -> None:
    """Refuse updates and deletes of append-only rows at the ORM level."""
    for obj in session.deleted:
        if isinstance(obj, AppendOnly):
            raise AppendOnlyViolation(f"{type(obj).__name__} rows cannot be deleted")
    for obj in session.dirty:
        if isinstance(obj, AppendOnly) and session.is_modified(obj, include_collections=False):
            raise AppendOnlyViolation(f"{type(obj).__name__} rows cannot be changed")


def append_only_triggers(table: str, dialect: str) -> list[str]:
    """SQL that makes the database itself refuse UPDATE and DELETE on a table."""
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            for verb in ("UPDATE", "DELETE")
        ]
    if dialect == "postgresql":
        return [
            "CREATE OR REPLACE FUNCTION loa_refuse_change() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION USING MESSAGE = TG_TABLE_NAME || ' is append-only'; END $$",
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION loa_refuse_change()",
        ]
    return []


def protect_table(table: Table) -> None:
    """Install the append-only triggers whenever the table is created outside migrations."""

    @event.listens_for(table, "after_create")
    def _install(target, connection, **kw) -> None:
        for statement in append_only_triggers(target.name, connection.dialect.name):
            connection.exec_driver_sql(statement)
