"""Fixtures of the API tests: calling as a named user with a bearer token."""

import pytest

from app.auth.service import create_token


@pytest.fixture
def api(app, users):
    """Call the API as a named user: api("writer").post(url, json=...)."""

    class Caller:
        def __init__(self, name):
            _, self.token = create_token(users[name], "test")
            self.client = app.test_client()

        def __getattr__(self, method):
            def call(url, **kwargs):
                headers = {"Authorization": f"Bearer {self.token}"}
                return getattr(self.client, method)(url, headers=headers, **kwargs)

            return call

    return Caller


def assert_error(response, status, code, field=None):
    """Check an error answer: its status and the {error, message, fields} shape."""
    body = response.get_json()
    assert response.status_code == status, body
    assert set(body) == {"error", "message", "fields"}
    assert body["error"] == code
    assert body["message"]
    if field:
        assert field in body["fields"]
    return body
