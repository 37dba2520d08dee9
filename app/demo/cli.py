"""`flask demo load`: create the demo organisation, users, scripts and schedules on a first run.

The scripts in scripts_vi/ are valid in 2021, when the seed dispatch was issued. The demo moves
an expired script's validity into the present (same length, starting on the day of loading),
renders and approves two of them, and imports schedules/*.yaml as the province's supervisor: the
seed campaign airs them in every demo station's morning and evening sessions for two weeks. So
that a newcomer sees spots air and the log fill soon after `make run`, whatever the hour, the
city's operator also schedules a trial for the first day: the shortest approved script every
TRIAL_EVERY_MINUTES on the city's stations for TRIAL_HOURS, starting a few minutes after the load
and keeping clear of the sessions (a spot planned inside a session already under way would be
sequenced at the session's start, in the past). Demo stations use the default simulate output.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.auth.models import User
from app.auth.service import UserInput, create_user
from app.core import clock
from app.core.clock import LOCAL_TZ
from app.demo import data
from app.extensions import db
from app.org.service import (
    StationInput,
    UnitInput,
    add_session,
    count_units,
    create_station,
    create_unit,
    unit_by_code,
)
from app.schedules.files import (
    Entry,
    EntryResult,
    RelativeDay,
    ScheduleFile,
    ScheduleFileError,
    find_files,
    import_files,
    import_paths,
)
from app.scripts.models import Script
from app.scripts.service import approve_script, submit_script, update_script
from app.scripts.sources import import_folder, input_from_source, parse_source
from app.speech.models import RenderStatus
from app.speech.service import (
    LexiconInput,
    RenderRequest,
    create_lexicon_entry,
    default_station,
    process_next_render,
    request_render,
)

demo_cli = AppGroup("demo", help="Demo data.")


@dataclass
class DemoLoad:
    """What loading the demo made: accounts to show once, schedules, the trial's times."""

    accounts: list[tuple[str, str, str]]
    schedules: list[EntryResult] = field(default_factory=list)
    trial: tuple[time, ...] = ()


def load_demo(scripts_dir: Path, schedules_dir: Path | None = None) -> DemoLoad:
    """Create the demo data; with schedules_dir, import its schedules and add the trial."""
    for code, name, level, parent_code in data.UNITS:
        parent = unit_by_code(parent_code) if parent_code else None
        create_unit(None, UnitInput(code=code, name=name, level=level, parent=parent))
    for code, name, kind, unit_code, weekdays in data.STATIONS:
        station = create_station(
            None,
            StationInput(
                code=code,
                name=name,
                kind=kind,
                unit=unit_by_code(unit_code),
                intro_text=f"{name} xin thông báo",
            ),
        )
        for session_name, start, end, cap in data.SESSIONS:
            add_session(None, station, session_name, start, end, cap, weekdays)
    shown = []
    for username, full_name, role, unit_code, password in data.USERS:
        create_user(
            None,
            UserInput(
                username=username, full_name=full_name, role=role, unit=unit_by_code(unit_code)
            ),
            password,
            must_change_password=True,
        )
        shown.append((username, role.label, password))
    failed = [r for r in import_folder(scripts_dir) if r.outcome == "error"]
    if failed:
        raise click.ClickException(
            "Demo scripts did not import: " + "; ".join(r.message for r in failed)
        )
    today = clock.now().astimezone(LOCAL_TZ).date()
    _bring_into_present(scripts_dir, today)
    admin = db.session.scalar(select(User).where(User.role == data.USERS[0][2]))
    for term, spoken, note in data.LEXICON:
        create_lexicon_entry(admin, LexiconInput(term, spoken, note))
    writer = db.session.scalar(select(User).where(User.role == data.USERS[2][2]))
    supervisor = db.session.scalar(select(User).where(User.role == data.USERS[1][2]))
    for key in data.APPROVED_KEYS + data.SUBMITTED_KEYS:
        script = db.session.scalar(select(Script).where(Script.source_key == key))
        if script is not None:
            # Review needs finished audio; the demo renders it here, offline, before submitting.
            request_render(writer, script, RenderRequest(station=default_station(script)))
            render = process_next_render()
            if render is None or render.status != RenderStatus.DONE:
                raise click.ClickException(f"Demo audio failed: {render.error if render else ''}")
            submit_script(writer, script)
            if key in data.APPROVED_KEYS:
                approve_script(supervisor, script)
    loaded = DemoLoad(shown)
    if schedules_dir is not None and schedules_dir.is_dir():
        loaded.schedules = _import_schedules(schedules_dir)
        loaded.trial = _add_trial(clock.now())
    return loaded


def _bring_into_present(scripts_dir: Path, today: date) -> None:
    """Move each expired imported script's validity to start today, keeping its length."""
    for path in sorted(scripts_dir.glob("*.md")):
        script = db.session.scalar(select(Script).where(Script.source_key == path.stem))
        if script is None or script.valid_until is None or script.valid_until >= today:
            continue
        source = input_from_source(*parse_source(path.read_text("utf-8"), path.name), path.name)
        start = source.valid_from or script.valid_until
        moved = replace(source, valid_from=today, valid_until=today + (source.valid_until - start))
        update_script(None, script, moved, None, origin="demo")


def _import_schedules(schedules_dir: Path) -> list[EntryResult]:
    """Import schedules/*.yaml as the province's supervisor."""
    importer = db.session.scalar(select(User).where(User.username == data.SCHEDULE_IMPORTER))
    try:
        return import_paths(importer, find_files(schedules_dir))
    except ScheduleFileError as exc:
        raise click.ClickException("Lịch demo không nhập được:\n" + exc.message) from exc


def trial_times(now: datetime) -> tuple[time, ...]:
    """The trial's times today: every few minutes from just after now, outside the sessions."""
    local = now.astimezone(LOCAL_TZ)
    step = data.TRIAL_EVERY_MINUTES
    soonest = local.hour * 60 + local.minute + data.TRIAL_LEAD_MINUTES + (local.second > 0)
    first = -(-soonest // 5) * 5  # the next whole five minutes
    last = min(first + data.TRIAL_HOURS * 60, 23 * 60 + 59)
    # A spot lasts about two minutes: keep it from running into a session, too.
    busy = [
        (s.hour * 60 + s.minute - data.TRIAL_LEAD_MINUTES, e.hour * 60 + e.minute)
        for _, s, e, _ in data.SESSIONS
    ]
    return tuple(
        time(m // 60, m % 60)
        for m in range(first, last + 1, step)
        if not any(lo <= m <= hi for lo, hi in busy)
    )


def _add_trial(now: datetime) -> tuple[time, ...]:
    """Schedule today's trial airings as the city's operator; the times, or () when too late."""
    times = trial_times(now)
    scripts = db.session.scalars(
        select(Script).where(Script.source_key.in_(data.APPROVED_KEYS))
    ).all()
    if not times or not scripts:
        return ()
    shortest = min(scripts, key=lambda s: (s.approved_render.duration_s or 0.0, s.id))
    operator = db.session.scalar(select(User).where(User.username == data.TRIAL_OPERATOR))
    entry = Entry(
        file="phát thử của bản demo",
        stem="demo",
        key=data.TRIAL_KEY,
        script=shortest.source_key,
        units=(data.TRIAL_UNIT,),
        kind="times",
        times=times,
        start=RelativeDay(0),
        days=1,
        # Outside the sessions on purpose: confirmed, as an operator would in the form.
        confirm_warnings=True,
    )
    try:
        import_files(operator, [ScheduleFile(entry.file, entry.stem, [entry])])
    except ScheduleFileError as exc:
        raise click.ClickException("Lịch phát thử không lưu được:\n" + exc.message) from exc
    return times


@demo_cli.command("load")
@click.option("--if-empty", is_flag=True, help="Do nothing when units already exist.")
def load_command(if_empty: bool):
    """Load the Bình Thuận demo data and print the demo accounts once."""
    if count_units():
        if if_empty:
            return
        raise click.ClickException("The database already has units; demo data not loaded.")
    loaded = load_demo(
        Path(current_app.config["SCRIPTS_DIR"]), Path(current_app.config["SCHEDULES_DIR"])
    )
    click.echo("Demo data loaded. Accounts (each must change its password at first login):")
    for username, role, password in loaded.accounts:
        click.echo(f"  {username:12} {password:18} {role}")
    for result in loaded.schedules:
        click.echo(f"Lịch {result.source_key}: {result.label} ({result.message}).")
    if loaded.trial:
        first, last = loaded.trial[0], loaded.trial[-1]
        when = f"lúc {first:%H:%M}" if first == last else f"{first:%H:%M} đến {last:%H:%M}"
        click.echo(
            f"Phát thử hôm nay trên các đài của {unit_by_code(data.TRIAL_UNIT).name}: {when}, "
            f"{len(loaded.trial)} lần (mô phỏng, xem nhật ký phát sóng)."
        )
