"""`flask units create`: the first units of a deployment, before any admin can log in."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.core.errors import DomainError
from app.org.service import UnitInput, create_unit, unit_by_code

units_cli = AppGroup("units", help="Manage organisation units.")


@units_cli.command("create")
@click.argument("code")
@click.argument("name")
@click.option("--level", default="", help='Level label, e.g. "Tỉnh" or "Xã".')
@click.option("--parent", "parent_code", default=None, help="Code of the parent unit.")
def create_unit_command(code, name, level, parent_code):
    """Create a unit CODE named NAME, under --parent or as a root."""
    parent = None
    if parent_code:
        parent = unit_by_code(parent_code)
        if parent is None:
            raise click.ClickException(f"No unit with code {parent_code!r}.")
    try:
        unit = create_unit(None, UnitInput(code=code, name=name, level=level, parent=parent))
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"Created unit {unit.code}: {unit.name}.")
