"""`flask broker files`: Mosquitto's password_file and acl_file for push (app/push.py)."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from app import push

broker_cli = AppGroup("broker", help="The MQTT broker (Mosquitto) that wakes station agents.")

_FILE = click.Path(dir_okay=False, writable=True, path_type=Path)


@broker_cli.command("files")
@click.option("--passwords", type=_FILE, required=True, help="Mosquitto's password_file.")
@click.option("--acl", type=_FILE, required=True, help="Mosquitto's acl_file.")
def files_command(passwords: Path, acl: Path):
    """Write the broker's users (the server, every active agent) and their topics.

    Run it after adding or revoking an agent, then `systemctl reload mosquitto`. Files are
    replaced in one step, mode 0640; an unchanged set of users leaves them as they are.
    """
    try:
        result = push.write_broker_files(passwords, acl)
    except (push.BrokerFilesError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    state = "written" if result.changed else "unchanged"
    click.echo(
        f"Broker files {state}: {passwords} and {acl}, the server and {result.agents} agent(s)."
    )
