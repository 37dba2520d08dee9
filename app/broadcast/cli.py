"""`flask logs verify`: check that no broadcast log row was altered or removed; `flask logs
totals`: check (or rebuild) the daily totals the reports read."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.broadcast import totals
from app.broadcast.service import verify_chain
from app.core.clock import LOCAL_TZ
from app.extensions import db
from app.org.models import Station

logs_cli = AppGroup("logs", help="Broadcast log tools.")


def _local_midnight(day: date) -> datetime:
    """Start of a day in Asia/Ho_Chi_Minh, whatever the server's time zone."""
    return datetime.combine(day, time(0), tzinfo=LOCAL_TZ)


@logs_cli.command("verify")
@click.option("--station", "station_code", default=None, help="Code of one station.")
@click.option(
    "--from",
    "date_from",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="First day (Vietnam time) of rows written, YYYY-MM-DD.",
)
@click.option(
    "--to",
    "date_to",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Last day (Vietnam time, inclusive) of rows written, YYYY-MM-DD.",
)
def verify_command(station_code, date_from, date_to):
    """Verify the hash chains of the broadcast log; exit 1 at the first broken row."""
    station_id = None
    if station_code:
        station = db.session.scalar(
            select(Station).where(Station.code == station_code.strip().upper())
        )
        if station is None:
            raise click.BadParameter(f"Không có đài mã {station_code!r}.", param_hint="--station")
        station_id = station.id
    if date_from and date_to and date_to < date_from:
        raise click.BadParameter("Ngày kết thúc trước ngày bắt đầu.", param_hint="--to")
    start = _local_midnight(date_from.date()) if date_from else None
    end = _local_midnight(date_to.date() + timedelta(days=1)) if date_to else None
    result = verify_chain(station_id, start, end)
    if result.ok:
        click.echo(f"OK: đã kiểm tra {result.checked} dòng, nhật ký phát sóng nguyên vẹn.")
        return
    click.echo(f"LỖI: {result.problem}")
    click.echo(f"Đã kiểm tra {result.checked} dòng trước chỗ hỏng.")
    raise SystemExit(1)


@logs_cli.command("totals")
@click.option("--rebuild", is_flag=True, help="Recompute the daily totals from the log.")
def totals_command(rebuild):
    """Check the daily totals the reports read against the log; exit 1 when they differ."""
    if rebuild:
        groups = totals.rebuild_totals()
        click.echo(f"Đã tính lại tổng theo ngày từ nhật ký: {groups} nhóm.")
    differences = totals.check_totals()
    if not differences:
        click.echo("OK: tổng theo ngày khớp với nhật ký phát sóng.")
        return
    click.echo(f"LỖI: {len(differences)} nhóm không khớp với nhật ký (đã giữ → đếm lại):")
    for d in differences[:20]:
        kept, counted = d.kept, d.counted
        click.echo(
            f"  {d.group}: {kept[0]} dòng, {kept[1]:.1f} s → {counted[0]} dòng, {counted[1]:.1f} s"
        )
    click.echo("Chạy `flask logs totals --rebuild` để tính lại.")
    raise SystemExit(1)
