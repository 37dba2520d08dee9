"""Fixtures for the sign-in tests: login throttling turned on where it is the point."""

import pytest

from app.extensions import limiter


@pytest.fixture
def limited(app):
    """This test's app with throttling on (the suite runs with it off), counters empty."""
    app.config["RATELIMIT_ENABLED"] = True
    limiter.init_app(app)
    limiter.reset()
    yield limiter
    limiter.reset()


def from_address(client, address: str):
    """Make every request of this test client come from the given address."""
    client.environ_base["REMOTE_ADDR"] = address
    return client
