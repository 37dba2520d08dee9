"""`flask dispatches read FILE`: print what a dispatch says as JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.dispatches.extract import DispatchFileError, Limits
from app.dispatches.reader import read_path, read_text

dispatches_cli = AppGroup("dispatches", help="Dispatches: read the documents campaigns start from.")


@dispatches_cli.command("read")
@click.argument("file", type=click.Path(path_type=Path, allow_dash=True))
def read_command(file: Path):
    """Read FILE (PDF, scanned or with a text layer, DOCX, JPEG/PNG photo or UTF-8 text; '-'
    for standard input) and print its fields as JSON; scans and photos are read by OCR.

    Exit status 1 with a message for a file that cannot be read, and after printing the fields
    of a dispatch that has no number.
    """
    limits = Limits.from_config(current_app.config)
    try:
        if str(file) == "-":
            raw = sys.stdin.buffer.read(limits.max_bytes + 1)
            if len(raw) > limits.max_bytes:
                raise DispatchFileError("Nội dung quá lớn để là một công văn.")
            try:
                dispatch = read_text(raw.decode("utf-8-sig"))
            except UnicodeDecodeError as exc:
                raise DispatchFileError("Nội dung không phải văn bản UTF-8.") from exc
        elif not file.is_file():
            raise DispatchFileError(f"Không có tệp “{file}”.")
        else:
            dispatch = read_path(file, limits)
    except DispatchFileError as exc:
        click.echo(f"Lỗi: {exc.message}", err=True)
        sys.exit(1)
    click.echo(json.dumps(dispatch.to_dict(), ensure_ascii=False, indent=2))
    for problem in dispatch.problems:
        click.echo(f"cảnh báo: {problem.message}", err=True)
    if dispatch.number is None:
        sys.exit(1)
