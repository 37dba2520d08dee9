"""`flask scheduler run`: the playout runner, in its own process.

Config: PLAYOUT_OUTPUT (default "simulate"), PLAYOUT_SETTINGS (a dict given to that output,
e.g. {"player": "mpg123"} for local or {"url": "http://127.0.0.1:8000/loa.mp3"} for icecast),
PLAYOUT_STATIONS ({station code: {"output": name, "settings": {...}}} for stations that
differ), PLAYOUT_GRACE_S (default 300).
"""

from __future__ import annotations

import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup

from app.schedules import runner

scheduler_cli = AppGroup("scheduler", help="The playout runner.")


@scheduler_cli.command("run")
@click.option("--once", is_flag=True, help="One cycle: refresh, log misses, air what is due, exit.")
@click.option("--host", default=None, help="Name of this runner (default: host name and pid).")
@click.option("--poll", "poll_s", default=5.0, show_default=True, help="Seconds between cycles.")
def run_command(once: bool, host: str | None, poll_s: float) -> None:
    """Air scheduled spots on time, exactly once, and log each one."""
    app = current_app._get_current_object()
    clock = app.extensions["loa.clock"]
    host = host or runner.default_host()
    grace_s = float(app.config.get("PLAYOUT_GRACE_S", runner.GRACE_S))
    if once:
        totals = runner.run_once(clock, host, grace_s)
        click.echo(
            f"Đã ghi nhật ký {totals['logged']} lượt phát, {totals['missed']} lượt bỏ lỡ "
            f"({totals['added']} lượt mới lên lịch)."
        )
        return
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(f"Bộ phát {host} đang chạy (Ctrl+C để dừng).")
    runner.run_forever(app, host, clock, grace_s=grace_s, poll_s=poll_s, stop=stop)
