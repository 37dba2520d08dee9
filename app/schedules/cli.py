"""`flask scheduler run`: the playout runner, in its own process; `flask schedules import/export`.

Config: PLAYOUT_OUTPUT (default "simulate"), PLAYOUT_SETTINGS (a dict given to that output,
e.g. {"player": "mpg123"} for local or {"url": "http://127.0.0.1:8000/loa.mp3"} for icecast),
PLAYOUT_STATIONS ({station code: {"output": name, "settings": {...}}} for stations that
differ), PLAYOUT_GRACE_S (default 300).
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from app.auth.models import User
from app.core.errors import DomainError
from app.extensions import db
from app.org.service import unit_by_code
from app.playout import runner
from app.schedules.files import (
    OUTCOME_LABELS,
    ScheduleFileError,
    export_schedules,
    find_files,
    import_paths,
    schedules_to_export,
)

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


schedules_cli = AppGroup("schedules", help="Schedule files (schedules/*.yaml).")


def _importer(username: str | None) -> User:
    """The user an import runs as, named with --as."""
    if not username:
        raise click.ClickException(
            "Hãy cho biết người nhập lịch: --as TÊN_ĐĂNG_NHẬP (kỹ thuật viên phát thanh hoặc "
            "người duyệt)."
        )
    user = db.session.scalar(
        select(User).where(func.lower(User.username) == username.strip().lower())
    )
    if user is None:
        raise click.ClickException(f"Không có người dùng “{username}”.")
    if not user.active:
        raise click.ClickException(f"Tài khoản “{user.username}” đã ngừng hoạt động.")
    return user


@schedules_cli.command("import")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--as", "username", default=None, help="Username to import as (schedule.edit).")
@click.option("--prune", is_flag=True, help="Delete schedules whose entry left its file.")
@click.option("--dry-run", is_flag=True, help="Check and report what would change; save nothing.")
def import_command(paths: tuple[Path, ...], username: str | None, prune: bool, dry_run: bool):
    """Import schedule files or folders (default SCHEDULES_DIR); all or nothing, idempotent."""
    actor = _importer(username)
    files: list[Path] = []
    for path in paths or (Path(current_app.config["SCHEDULES_DIR"]),):
        if path.is_dir():
            files += find_files(path)
        elif path.is_file():
            files.append(path)
        else:
            raise click.ClickException(f"Không có tệp hoặc thư mục {path}.")
    try:
        results = import_paths(actor, files, prune=prune, dry_run=dry_run)
    except DomainError as exc:
        problems = exc.problems if isinstance(exc, ScheduleFileError) else [exc.message]
        for problem in problems:
            click.echo(problem, err=True)
        click.echo(f"Không nhập được: {len(problems)} lỗi; không có lịch nào được lưu.", err=True)
        raise SystemExit(1) from exc
    for r in results:
        click.echo(f"{r.label:20} {r.source_key}" + (f"  ({r.message})" if r.message else ""))
    counts = {k: sum(1 for r in results if r.outcome == k) for k in OUTCOME_LABELS}
    summary = ", ".join(f"{n} {OUTCOME_LABELS[k]}" for k, n in counts.items())
    click.echo(f"Nhập lịch từ {len(files)} tệp: {summary}.")
    if dry_run:
        click.echo("Chạy thử: không có gì được lưu.")


@schedules_cli.command("export")
@click.option("--unit", "unit_code", default=None, help="Only schedules owned by this unit's tree.")
@click.option("--source", default=None, help="Only schedules of this file stem, with its keys.")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File (default stdout)."
)
def export_command(unit_code: str | None, source: str | None, output: Path | None):
    """Write the active schedules as a schedule file that imports back to the same rules."""
    unit = None
    if unit_code:
        unit = unit_by_code(unit_code.strip().upper())
        if unit is None:
            raise click.ClickException(f"Không có đơn vị mã “{unit_code}”.")
    schedules = schedules_to_export(unit, source)
    text = export_schedules(schedules, source)
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    click.echo(f"Đã ghi {len(schedules)} lịch vào {output}.")
