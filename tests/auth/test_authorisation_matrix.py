"""Role-by-endpoint authorisation matrix, checked on the server for pages and the API."""

import pytest

from app.auth.permissions import DENIED_MESSAGES
from app.auth.service import create_token
from tests.factories import make_script, submit

ROLES = ["writer", "operator", "supervisor", "admin"]
EDITORS = {"writer", "supervisor"}

# (method, path with {id} for a submitted script of the district, roles allowed)
WEB = [
    ("get", "/scripts", set(ROLES)),
    ("get", "/scripts/{id}", set(ROLES)),
    ("get", "/scripts/{id}/diff", set(ROLES)),
    ("get", "/scripts/{id}/versions/1", set(ROLES)),
    ("get", "/scripts/new", EDITORS),
    ("get", "/scripts/{id}/edit", EDITORS),
    ("post", "/scripts/{id}/submit", EDITORS),
    ("get", "/review", {"supervisor"}),
    ("get", "/scripts/{id}/review", {"supervisor"}),
    ("post", "/scripts/{id}/approve", {"supervisor"}),
    ("post", "/scripts/{id}/reject", {"supervisor"}),
    ("post", "/scripts/{id}/archive", {"supervisor"}),
    ("get", "/audit/", {"supervisor", "admin"}),
    ("get", "/admin/units", {"admin"}),
    ("get", "/admin/units/new", {"admin"}),
    ("get", "/admin/stations", {"admin"}),
    ("get", "/admin/stations/new", {"admin"}),
    ("get", "/admin/users", {"admin"}),
    ("get", "/admin/users/new", {"admin"}),
    ("get", "/account/tokens", set(ROLES)),
    ("get", "/account/password", set(ROLES)),
]

API = [
    ("get", "/api/v1/scripts", set(ROLES)),
    ("get", "/api/v1/scripts/{id}", set(ROLES)),
    ("post", "/api/v1/scripts", EDITORS),
    ("patch", "/api/v1/scripts/{id}", EDITORS),
    ("post", "/api/v1/scripts/{id}/submit", EDITORS),
    ("post", "/api/v1/scripts/{id}/approve", {"supervisor"}),
    ("post", "/api/v1/scripts/{id}/reject", {"supervisor"}),
]


@pytest.fixture
def submitted(users, org):
    """A submitted script of the district, written by a writer nobody logs in as here."""
    script = make_script(users["writer2"], org.district)
    submit(users["writer2"], script)
    return script


def _cases(table):
    return [
        pytest.param(method, path, role, role in allowed, id=f"{role}-{method}-{path}")
        for method, path, allowed in table
        for role in ROLES
    ]


@pytest.mark.parametrize(("method", "path", "role", "allowed"), _cases(WEB))
def test_web_endpoint_authorisation(login_as, submitted, method, path, role, allowed):
    client = login_as(role)
    data = {"reason": "Lý do đủ dài.", "version_id": submitted.current_version_id}
    response = getattr(client, method)(path.format(id=submitted.id), data=data)
    if allowed:
        assert response.status_code in {200, 302}, response.get_data(as_text=True)[:500]
    else:
        assert response.status_code == 403
        page = response.get_data(as_text=True)
        assert any(message in page for message in DENIED_MESSAGES.values())


@pytest.mark.parametrize(("method", "path", "role", "allowed"), _cases(API))
def test_api_endpoint_authorisation(client, users, org, submitted, method, path, role, allowed):
    _, token = create_token(users[role], "matrix")
    payload = {
        "title": "Thông báo",
        "body": "Nội dung thông báo.",
        "revision": submitted.revision,
        "reason": "Lý do đủ dài.",
    }
    response = getattr(client, method)(
        path.format(id=submitted.id), json=payload, headers={"Authorization": f"Bearer {token}"}
    )
    if allowed:
        # Past the permission check; a workflow rule may still answer 409 (already submitted).
        assert response.status_code in {200, 201, 409}, response.get_json()
    else:
        assert response.status_code == 403
        assert response.get_json()["error"] == "forbidden"
        assert response.get_json()["message"] in DENIED_MESSAGES.values()


@pytest.mark.parametrize("role", ROLES)
def test_outside_unit_is_not_found_for_every_role(app, users, org, role):
    from tests.factories import make_user

    stranger = make_user(org.other_district, role=users[role].role, username=f"xa-{role}")
    script = make_script(users["writer"], org.district)
    _, token = create_token(stranger, "x")
    response = app.test_client().get(
        f"/api/v1/scripts/{script.id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 404


@pytest.mark.parametrize("path", ["/admin/units/{unit}", "/admin/users/{user}"])
def test_admin_of_a_branch_cannot_manage_another_branch(app, users, org, path):
    from app.auth.models import Role
    from tests.conftest import login
    from tests.factories import make_user

    make_user(org.other_district, Role.ADMIN, "admin-lagi")
    client = login(app.test_client(), "admin-lagi")
    response = client.get(path.format(unit=org.district.id, user=users["writer"].id))
    assert response.status_code == 404
