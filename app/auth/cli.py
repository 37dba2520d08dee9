"""`flask users create` and `flask users token`: set up accounts without the web UI."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.auth.models import Role, User
from app.auth.service import UserInput, create_token, create_user
from app.core.errors import DomainError
from app.extensions import db
from app.org.service import unit_by_code

users_cli = AppGroup("users", help="Manage user accounts.")


@users_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--unit", "unit_code", required=True, help="Code of the user's unit.")
@click.option("--full-name", default="", help="Full name (defaults to the user name).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option(
    "--must-change/--no-must-change", default=False, help="Force a password change at first login."
)
def create_user_command(username, role, unit_code, full_name, password_stdin, must_change):
    """Create USERNAME with a role in a unit; the password comes from a prompt or stdin."""
    unit = unit_by_code(unit_code)
    if unit is None:
        raise click.ClickException(f"No unit with code {unit_code!r}.")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(
            None,
            UserInput(
                username=username, full_name=full_name or username, role=Role(role), unit=unit
            ),
            password,
            must_change_password=must_change,
        )
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"Created {user.username} ({user.role.value}) in {unit.code}.")


@users_cli.command("token")
@click.argument("username")
@click.option("--name", default="Dòng lệnh", help="A label to recognise the token by.")
def token_command(username, name):
    """Print a new API token for USERNAME (shown only this once)."""
    user = db.session.scalar(select(User).where(User.username == username.lower()))
    if user is None:
        raise click.ClickException(f"No user {username!r}.")
    if not user.active:
        raise click.ClickException(f"User {username!r} is deactivated.")
    _, plaintext = create_token(user, name, actor=None)
    click.echo(plaintext)
