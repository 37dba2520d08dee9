"""`flask agents add|list|revoke|mode|clear-flag`: station agents from the command line (as the
system)."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.agents import ingest, service
from app.core.clock import to_local
from app.core.errors import DomainError
from app.extensions import db
from app.org.models import PlayoutMode, Station

agents_cli = AppGroup("agents", help="Manage station agents (the PCs that air a station).")


def _station(code: str) -> Station:
    """A station by code (case does not matter), or a usage error."""
    station = db.session.scalar(select(Station).where(Station.code == code.strip().upper()))
    if station is None:
        raise click.ClickException(f"No station with code {code!r}.")
    return station


def _when(value) -> str:
    """A time in Vietnam time, or a dash."""
    return to_local(value).strftime("%Y-%m-%d %H:%M") if value else "-"


@agents_cli.command("add")
@click.argument("station_code")
@click.option("--name", default="", help="A label to recognise the agent by.")
def add_command(station_code, name):
    """Add an agent for STATION_CODE and print its one-time enrolment code."""
    try:
        new = service.add_agent(None, _station(station_code), name)
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    click.echo(f"Agent {new.agent.id} ({new.agent.name}) for {new.agent.station.code}.")
    click.echo(f"Enrolment code (shown once, valid until {_when(new.expires_at)}): {new.code}")


@agents_cli.command("list")
@click.option("--station", "station_code", default=None, help="Only this station's agents.")
def list_command(station_code):
    """List agents: id, station, mode, status, name, enrolled, last seen, chain."""
    station = _station(station_code) if station_code else None
    agents = service.list_agents(station)
    if not agents:
        click.echo("No agents.")
        return
    click.echo("id\tstation\tmode\tstatus\tname\tenrolled\tlast seen\tchain")
    for a in agents:
        chain = (
            f"flagged #{a.chain_broken_seq} {_when(a.chain_broken_at)}" if a.chain_flagged else "ok"
        )
        click.echo(
            f"{a.id}\t{a.station.code}\t{a.station.playout_mode.value}\t{a.status.value}\t"
            f"{a.name}\t{_when(a.enrolled_at)}\t{_when(a.last_seen_at)}\t{chain}"
        )


@agents_cli.command("revoke")
@click.argument("agent_id", type=int)
def revoke_command(agent_id):
    """Revoke agent AGENT_ID: its credential stops working at once."""
    try:
        agent = service.revoke_agent(None, service.get_agent(None, agent_id))
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    click.echo(f"Revoked agent {agent.id} ({agent.name}) of {agent.station.code}.")
    if agent.station.playout_mode == PlayoutMode.AGENT:
        click.echo(
            f"Warning: {agent.station.code} is still in agent mode and now has no agent: "
            f"nothing airs it until `flask agents mode {agent.station.code} central` or a new "
            "agent enrols.",
            err=True,
        )


@agents_cli.command("mode")
@click.argument("station_code")
@click.argument("mode", type=click.Choice([m.value for m in PlayoutMode]))
def mode_command(station_code, mode):
    """Switch who airs STATION_CODE: central (the server's runner) or agent (its agent)."""
    try:
        station = service.set_playout_mode(None, _station(station_code), mode)
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    click.echo(f"{station.code} is now aired by: {station.playout_mode.value}.")


@agents_cli.command("clear-flag")
@click.argument("agent_id", type=int)
def clear_flag_command(agent_id):
    """Clear agent AGENT_ID's chain flag, after checking why its batch broke the chain."""
    try:
        agent = ingest.clear_chain_flag(None, service.get_agent(None, agent_id))
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    click.echo(
        f"Cleared the chain flag of agent {agent.id} ({agent.name}) of {agent.station.code}; "
        "its next batch of log rows is checked afresh."
    )
