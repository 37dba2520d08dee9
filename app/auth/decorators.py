"""View decorators: login plus a role permission, checked on the server."""

from __future__ import annotations

from functools import wraps

from flask_login import current_user, login_required

from app.auth.permissions import Permission, require


def permission_required(permission: Permission):
    """Require a logged-in user whose role grants the permission."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            require(current_user, permission)
            return view(*args, **kwargs)

        return wrapped

    return decorator
