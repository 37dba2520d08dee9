"""What each role may do, and the unit-scope check every view and API call goes through."""

from __future__ import annotations

from enum import Enum

from app.auth.models import Role, User
from app.core.errors import NotFound, PermissionDenied
from app.org.models import Unit


class Permission(str, Enum):
    """An action a role may be granted."""

    SCRIPT_VIEW = "script.view"
    SCRIPT_EDIT = "script.edit"
    SCRIPT_REVIEW = "script.review"
    SCRIPT_ARCHIVE = "script.archive"
    AUDIT_VIEW = "audit.view"
    LEXICON_EDIT = "lexicon.edit"
    SPEECH_RENDER = "speech.render"
    SCHEDULE_EDIT = "schedule.edit"
    PLAYOUT_CONTROL = "playout.control"
    LIBRARY_VIEW = "library.view"
    LIBRARY_EDIT = "library.edit"
    ADMIN = "admin"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.WRITER: frozenset(
        {
            Permission.SCRIPT_VIEW,
            Permission.SCRIPT_EDIT,
            Permission.SPEECH_RENDER,
            Permission.LIBRARY_VIEW,
            Permission.LIBRARY_EDIT,
        }
    ),
    Role.OPERATOR: frozenset(
        {
            Permission.SCRIPT_VIEW,
            Permission.SCHEDULE_EDIT,
            Permission.PLAYOUT_CONTROL,
            Permission.LIBRARY_VIEW,
            Permission.LIBRARY_EDIT,
        }
    ),
    Role.SUPERVISOR: frozenset(
        {
            Permission.SCRIPT_VIEW,
            Permission.SCRIPT_EDIT,
            Permission.SCRIPT_REVIEW,
            Permission.SCRIPT_ARCHIVE,
            Permission.AUDIT_VIEW,
            Permission.LEXICON_EDIT,
            Permission.SPEECH_RENDER,
            Permission.SCHEDULE_EDIT,
            Permission.PLAYOUT_CONTROL,
            # Supervisors hear and approve what others put together; they read the library.
            Permission.LIBRARY_VIEW,
        }
    ),
    Role.ADMIN: frozenset(
        {
            Permission.SCRIPT_VIEW,
            Permission.AUDIT_VIEW,
            Permission.LEXICON_EDIT,
            Permission.LIBRARY_VIEW,
            Permission.LIBRARY_EDIT,
            Permission.ADMIN,
        }
    ),
}

DENIED_MESSAGES = {
    Permission.SCRIPT_VIEW: "Bạn không có quyền xem kịch bản.",
    Permission.SCRIPT_EDIT: "Vai trò của bạn không được soạn hoặc sửa kịch bản.",
    Permission.SCRIPT_REVIEW: "Chỉ người duyệt mới được duyệt hoặc từ chối kịch bản.",
    Permission.SCRIPT_ARCHIVE: "Chỉ người duyệt mới được lưu trữ kịch bản.",
    Permission.AUDIT_VIEW: "Chỉ người duyệt và quản trị mới xem được nhật ký kiểm tra.",
    Permission.LEXICON_EDIT: "Chỉ người duyệt và quản trị mới sửa được từ điển phát âm.",
    Permission.SPEECH_RENDER: "Chỉ người soạn và người duyệt mới tạo được âm thanh.",
    Permission.SCHEDULE_EDIT: "Chỉ nhân viên đài và người duyệt mới được lập hoặc sửa lịch phát.",
    Permission.PLAYOUT_CONTROL: (
        "Chỉ nhân viên đài và người duyệt mới được phát ngay, bỏ qua hoặc ghi lượt đọc trực tiếp."
    ),
    Permission.LIBRARY_VIEW: "Bạn không có quyền xem thư viện âm thanh.",
    Permission.LIBRARY_EDIT: (
        "Chỉ cán bộ biên soạn, kỹ thuật viên phát thanh và quản trị viên mới được thêm, sửa "
        "hoặc lưu trữ mục trong thư viện âm thanh."
    ),
    Permission.ADMIN: "Chỉ quản trị viên mới vào được trang này.",
}


def can(user: User, permission: Permission) -> bool:
    """Tell whether the user's role grants the permission."""
    return user.is_authenticated and permission in ROLE_PERMISSIONS[user.role]


def require(user: User, permission: Permission) -> None:
    """Raise PermissionDenied unless the user's role grants the permission."""
    if not can(user, permission):
        raise PermissionDenied(DENIED_MESSAGES[permission])


def in_scope(user: User, unit: Unit) -> bool:
    """Tell whether the unit lies in the user's subtree."""
    return user.unit.contains(unit)


def require_scope(user: User, unit: Unit, what: str = "Đối tượng") -> None:
    """Raise NotFound for objects outside the user's subtree, so they are not even revealed."""
    if not in_scope(user, unit):
        raise NotFound(f"{what} không tồn tại hoặc nằm ngoài phạm vi đơn vị của bạn.")
