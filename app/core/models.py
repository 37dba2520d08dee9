"""Model helpers: enum columns and the append-only guard."""

from __future__ import annotations

from enum import Enum

from sqlalchemy import Enum as SAEnum
from sqlalchemy import event
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
