"""`flask scripts import`: load scripts_vi/*.md idempotently."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.scripts.sources import import_folder

scripts_cli = AppGroup("scripts", help="Manage radio scripts.")


@scripts_cli.command("import")
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
def import_command(folder: Path | None):
    """Import Markdown scripts from FOLDER (default SCRIPTS_DIR)."""
    folder = folder or Path(current_app.config["SCRIPTS_DIR"])
    if not folder.is_dir():
        raise click.ClickException(f"{folder} is not a folder.")
    results = import_folder(folder)
    for r in results:
        line = f"{r.outcome:9} {r.path.name}" + (f"  {r.message}" if r.message else "")
        click.echo(line, err=r.outcome == "error")
    counts = {
        k: sum(1 for r in results if r.outcome == k)
        for k in ("created", "updated", "unchanged", "error")
    }
    click.echo(", ".join(f"{v} {k}" for k, v in counts.items()))
    if counts["error"]:
        raise SystemExit(1)
