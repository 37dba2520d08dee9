"""The agent's command line: `python -m app.station_agent enrol|run|status`.

    python -m app.station_agent enrol --server https://loa.example.vn --code ABCD-EFGH-JKMN-PQRS
    python -m app.station_agent run
    python -m app.station_agent status

The state directory is --state, else LOA_AGENT_STATE, else ~/.local/share/loa-agent.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

import click

from app.core.clock import FileClock, SystemClock
from app.station_agent.client import Client, ServerError
from app.station_agent.state import Settings, StateDir, StateError
from app.station_agent.sync import DEFAULT_DAYS, DEFAULT_POLL_S, StationAgent

DEFAULT_STATE = Path.home() / ".local" / "share" / "loa-agent"


def _state(path: str | None) -> StateDir:
    return StateDir(path or os.environ.get("LOA_AGENT_STATE") or DEFAULT_STATE)


def _clock():
    """The system clock; LOA_CLOCK_FILE (tests, demos only) sets a file clock instead."""
    path = os.environ.get("LOA_CLOCK_FILE")
    return FileClock(path) if path else SystemClock()


state_option = click.option(
    "--state", "state_path", default=None, help="Thư mục trạng thái của máy trạm."
)


@click.group()
def main() -> None:
    """Máy trạm Loa: nhận lịch phát và âm thanh của đài, phát đúng giờ kể cả khi mất mạng."""
    logging.basicConfig(
        level=os.environ.get("LOA_AGENT_LOG", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@main.command()
@click.option("--server", required=True, help="Địa chỉ máy chủ Loa, ví dụ https://loa.example.vn")
@click.option("--code", required=True, help="Mã đăng ký một lần do quản trị viên cấp.")
@click.option(
    "--output",
    "output_json",
    default="",
    help='Đầu ra riêng của máy này (JSON), ví dụ {"output": "local", "settings": {}}.',
)
@state_option
def enrol(server: str, code: str, output_json: str, state_path: str | None) -> None:
    """Đăng ký máy trạm với máy chủ bằng mã một lần."""
    state = _state(state_path)
    if state.enrolled():
        raise click.ClickException(f"{state.root} đã đăng ký; dùng thư mục khác hoặc xoá nó.")
    try:
        output = json.loads(output_json) if output_json else {}
    except ValueError as exc:
        raise click.ClickException(f"--output không phải JSON hợp lệ: {exc}") from exc
    try:
        answer = Client(server).enrol(code)
    except ServerError as exc:
        raise click.ClickException(exc.message) from exc
    station = answer["agent"]["station"]
    state.create()
    state.save_credential(answer["credential"])
    state.save(
        Settings(
            server=server.rstrip("/"),
            agent_id=answer["agent"]["id"],
            station_id=station["id"],
            station_code=station["code"],
            output=output,
        )
    )
    click.echo(f"Đã đăng ký máy trạm cho đài {station['code']} ({station['name']}).")


@main.command()
@state_option
@click.option("--days", default=DEFAULT_DAYS, show_default=True, help="Số ngày lịch giữ sẵn.")
@click.option(
    "--poll", "poll_s", default=DEFAULT_POLL_S, show_default=True, help="Giây giữa hai lần đồng bộ."
)
@click.option("--once", is_flag=True, help="Đồng bộ một lần rồi thoát (không phát).")
def run(state_path: str | None, days: int, poll_s: float, once: bool) -> None:
    """Đồng bộ với máy chủ và phát lịch của đài cho đến khi dừng."""
    state = _state(state_path)
    try:
        _upgrade(state)
        agent = StationAgent(state, clock=_clock(), days=days, poll_s=poll_s)
    except StateError as exc:
        logging.getLogger("app.station_agent").error("%s", exc)
        raise click.ClickException(str(exc)) from exc
    if once:
        try:
            result = agent.sync()
        except ServerError as exc:
            raise click.ClickException(exc.message) from exc
        click.echo(json.dumps(result.__dict__, ensure_ascii=False))
        return
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(f"Máy trạm đài {agent.settings.station_code} đang chạy (Ctrl+C để dừng).")
    agent.run(stop)


def _upgrade(state: StateDir) -> None:
    """Rebuild a database another version made (local.upgrade_database), sending the rows it
    holds first; StateError when it must be kept (the agent then does not start)."""
    from app.station_agent import local

    settings = state.load()
    client = Client(settings.server, state.credential())
    local.upgrade_database(state, settings, client.upload)


@main.command()
@state_option
def status(state_path: str | None) -> None:
    """Cho biết máy trạm giữ lịch đến bao giờ, thiếu tệp nào, còn bao nhiêu dòng chưa gửi."""
    state = _state(state_path)
    try:
        agent = StationAgent(state, clock=_clock())
    except StateError as exc:
        raise click.ClickException(str(exc)) from exc
    with agent.app.app_context():
        from app.station_agent import local

        report = agent.health()
        report["pending_rows"] = len(local.pending_rows(agent.settings.uploaded_seq, 10**9))
    report["station"] = agent.settings.station_code
    report["server"] = agent.settings.server
    report["chain_refused"] = agent.settings.chain_refused
    click.echo(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
