"""`flask library add FILE...`: take audio files into the library from the station PC (no upload
size limit: hour-long programmes too), as a named user, audited like an upload."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.auth.models import User
from app.core.errors import DomainError
from app.extensions import db
from app.library import service
from app.library.models import LibraryKind
from app.org.service import unit_by_code

library_cli = AppGroup("library", help="Thư viện âm thanh: nhạc hiệu, nhạc nền, chương trình.")


@library_cli.command("add")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--user", "username", required=True, help="Tên đăng nhập của người thêm.")
@click.option(
    "--kind", required=True, type=click.Choice([k.value for k in LibraryKind]), help="Loại mục."
)
@click.option("--title", default="", help="Tên mục (mặc định: tên tệp, khi chỉ có một tệp).")
@click.option(
    "--unit", "unit_code", default="", help="Mã đơn vị sở hữu (mặc định: của người thêm)."
)
@click.option("--licence", "licence_note", default="", help="Bản quyền, nguồn.")
def add_command(files, username, kind, title, unit_code, licence_note):
    """Add each FILE to the library; print its id and measures, or why it was refused.

    Exit status 1 if any file was refused (the others are still added).
    """
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None or not user.is_active:
        raise click.ClickException(f"Không có người dùng “{username}” đang hoạt động.")
    unit = None
    if unit_code:
        unit = unit_by_code(unit_code)
        if unit is None:
            raise click.ClickException(f"Không có đơn vị mã “{unit_code}”.")
    if title and len(files) > 1:
        raise click.ClickException("--title chỉ dùng khi thêm một tệp.")
    refused = False
    for path in files:
        data = service.ItemInput(
            title=title or path.stem, kind=kind, licence_note=licence_note, unit=unit
        )
        try:
            if not path.is_file():
                raise service.LibraryRefused("missing", f"Không có tệp “{path}”.")
            with path.open("rb") as stream:
                added = service.add_item(user, data, stream, path.name, origin="cli")
        except DomainError as exc:
            db.session.rollback()
            details = "; ".join(f"{k}: {v}" for k, v in exc.fields.items() if v != exc.message)
            click.echo(
                f"{path}: không thêm được: {exc.message}" + (f" ({details})" if details else ""),
                err=True,
            )
            refused = True
            continue
        item = added.item
        if added.duplicate:
            click.echo(f"{path}: đã có trong thư viện (mục #{item.id} “{item.title}”), không thêm.")
            continue
        click.echo(
            f"{path}: mục #{item.id} “{item.title}” ({item.kind.label}): "
            f"{item.duration_s:.1f} giây, {item.integrated_lufs:.1f} LUFS, "
            f"đỉnh {item.true_peak_dbtp:.1f} dBTP, sha256 {item.audio_sha256[:12]}…"
        )
        for warning in added.warnings:
            click.echo(f"  cảnh báo: {warning}", err=True)
    if refused:
        sys.exit(1)
