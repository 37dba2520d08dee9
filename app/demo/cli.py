"""`flask demo load`: create the demo organisation, users and scripts on a first run."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.auth.models import User
from app.auth.service import UserInput, create_user
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
from app.scripts.models import Script
from app.scripts.service import submit_script
from app.scripts.sources import import_folder
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


def load_demo(scripts_dir: Path) -> list[tuple[str, str, str]]:
    """Create the demo data; return (username, role, password) rows to show once."""
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
    admin = db.session.scalar(select(User).where(User.role == data.USERS[0][2]))
    for term, spoken, note in data.LEXICON:
        create_lexicon_entry(admin, LexiconInput(term, spoken, note))
    writer = db.session.scalar(select(User).where(User.role == data.USERS[2][2]))
    for key in data.SUBMITTED_KEYS:
        script = db.session.scalar(select(Script).where(Script.source_key == key))
        if script is not None:
            # Review needs finished audio; the demo renders it here, offline, before submitting.
            request_render(writer, script, RenderRequest(station=default_station(script)))
            render = process_next_render()
            if render is None or render.status != RenderStatus.DONE:
                raise click.ClickException(f"Demo audio failed: {render.error if render else ''}")
            submit_script(writer, script)
    return shown


@demo_cli.command("load")
@click.option("--if-empty", is_flag=True, help="Do nothing when units already exist.")
def load_command(if_empty: bool):
    """Load the Bình Thuận demo data and print the demo accounts once."""
    if count_units():
        if if_empty:
            return
        raise click.ClickException("The database already has units; demo data not loaded.")
    shown = load_demo(Path(current_app.config["SCRIPTS_DIR"]))
    click.echo("Demo data loaded. Accounts (each must change its password at first login):")
    for username, role, password in shown:
        click.echo(f"  {username:12} {password:18} {role}")
