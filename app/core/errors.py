"""Domain errors raised by services and mapped onto forms and API responses."""

from __future__ import annotations


class DomainError(Exception):
    """A rule was broken; carries a Vietnamese message and the fields at fault."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class ValidationError(DomainError):
    """The input does not meet the rules."""

    status = 422
    code = "validation_failed"


class PermissionDenied(DomainError):
    """The user may not do this."""

    status = 403
    code = "forbidden"


class NotFound(DomainError):
    """The object does not exist or is outside the user's units."""

    status = 404
    code = "not_found"


class Conflict(DomainError):
    """The object changed under the user (stale edit, decision already taken)."""

    status = 409
    code = "conflict"
