"""`python -m app.station_agent`: the station agent's command (app/station_agent/cli.py)."""

from app.station_agent.cli import main

main(prog_name="python -m app.station_agent")
