"""Plain make_* helpers that create test data with a default for every field."""

from __future__ import annotations

from itertools import count

from app.auth.models import Role, User
from app.auth.service import UserInput, create_user
from app.org.models import Station, StationKind, Unit
from app.org.service import StationInput, UnitInput, create_station, create_unit
from app.scripts.models import Priority, Script
from app.scripts.service import ScriptInput, create_script

PASSWORD = "correct-horse-battery"
_seq = count(1)

BODY = (
    "Thưa bà con, thực hiện Công văn số 855/BCĐ-TBTTTT ngày 30/8/2021, "
    "bà con hãy đi tiêm vắc xin phòng Covid-19 khi đến lượt."
)


def make_unit(
    code: str | None = None, name: str | None = None, parent: Unit | None = None, level: str = "Xã"
) -> Unit:
    """Create a unit."""
    n = next(_seq)
    return create_unit(
        None,
        UnitInput(code=code or f"U{n}", name=name or f"Đơn vị {n}", level=level, parent=parent),
    )


def make_station(
    unit: Unit,
    code: str | None = None,
    name: str | None = None,
    kind: StationKind = StationKind.COMMUNE_LOUDSPEAKER,
) -> Station:
    """Create a station."""
    n = next(_seq)
    return create_station(
        None, StationInput(code=code or f"ST{n}", name=name or f"Đài {n}", kind=kind, unit=unit)
    )


def make_user(
    unit: Unit,
    role: Role = Role.WRITER,
    username: str | None = None,
    password: str = PASSWORD,
    must_change_password: bool = False,
) -> User:
    """Create a user who can log in with PASSWORD."""
    n = next(_seq)
    return create_user(
        None,
        UserInput(
            username=username or f"{role.value}{n}",
            full_name=f"Người dùng {n}",
            role=role,
            unit=unit,
        ),
        password,
        must_change_password=must_change_password,
    )


def make_script(
    author: User | None, unit: Unit, title: str = "Kêu gọi tiêm chủng", body: str = BODY, **fields
) -> Script:
    """Create a draft script with one version."""
    data = ScriptInput(
        title=title,
        body=body,
        unit=unit,
        priority=fields.pop("priority", Priority.HIGH),
        campaign=fields.pop("campaign", "Tiêm chủng COVID-19 đợt 6"),
        **fields,
    )
    return create_script(author, data)
