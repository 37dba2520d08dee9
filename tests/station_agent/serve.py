"""The server as its own process for the fault tests: `python -m tests.station_agent.serve`
serves the app on 127.0.0.1 (a free port, printed as "port N") against the test's database,
on the clock in LOA_CLOCK_FILE, until killed."""

from __future__ import annotations

import os
import sys

from werkzeug.serving import make_server

from app import create_app
from app.core.clock import FileClock


def main() -> None:
    """Serve until killed."""
    tmp = os.environ["LOA_TEST_TMP"]
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "INSTANCE_PATH": f"{tmp}/instance",
            "SQLALCHEMY_DATABASE_URI": os.environ["DATABASE_URL"],
            "SCRIPTS_DIR": f"{tmp}/scripts_vi",
            "SCHEDULES_DIR": f"{tmp}/schedules",
            "AUDIO_DIR": f"{tmp}/audio",
            "SESSION_COOKIE_SECURE": False,
            "RATELIMIT_ENABLED": False,
            "CLOCK": FileClock(os.environ["LOA_CLOCK_FILE"]),
        }
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(f"port {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
