"""Importing scripts_vi/*.md: front matter, idempotence, new versions on change."""

import shutil
from datetime import date
from pathlib import Path

import pytest

from app.audit.models import AuditEvent
from app.extensions import db
from app.scripts.models import Priority, Script, ScriptStatus, ScriptVersion
from app.scripts.sources import parse_source

ROOT = Path(__file__).resolve().parents[2]

SOURCE = """---
title: Kêu gọi tiêm vắc xin
campaign: Tiêm chủng COVID-19 đợt 6
category: Y tế
priority: ưu tiên
unit: D
targets: [D, C]
source:
  kind: Công văn
  number: 855/BCĐ-TBTTTT
  date: 2021-08-30
  issuer: Tiểu ban Thông tin Tuyên truyền
valid_from: 2021-08-30
valid_until: 2021-12-31
---

Thưa bà con, hãy đi tiêm khi đến lượt.
"""


@pytest.fixture
def folder(app, org):
    path = Path(app.config["SCRIPTS_DIR"])
    path.mkdir(parents=True)
    return path


def _import(runner, folder):
    return runner.invoke(args=["scripts", "import", str(folder)])


def test_import_creates_script_with_front_matter(runner, folder):
    (folder / "tiem-chung.md").write_text(SOURCE, encoding="utf-8")
    result = _import(runner, folder)
    assert result.exit_code == 0, result.output
    assert "1 created" in result.output
    script = db.session.query(Script).one()
    assert script.source_key == "tiem-chung"
    assert script.priority == Priority.HIGH
    assert script.source_date == date(2021, 8, 30)
    assert (script.valid_from, script.valid_until) == (date(2021, 8, 30), date(2021, 12, 31))
    assert sorted(u.code for u in script.targets) == ["C", "D"]
    assert script.current_version.body == "Thưa bà con, hãy đi tiêm khi đến lượt."
    assert script.current_version.origin == "import:tiem-chung.md"
    assert script.status == ScriptStatus.DRAFT


def test_import_is_idempotent(runner, folder):
    (folder / "tiem-chung.md").write_text(SOURCE, encoding="utf-8")
    _import(runner, folder)
    events = db.session.query(AuditEvent).count()
    result = _import(runner, folder)
    assert "1 unchanged" in result.output
    assert db.session.query(ScriptVersion).count() == 1
    assert db.session.query(AuditEvent).count() == events


def test_changed_file_makes_a_new_version(runner, folder):
    path = folder / "tiem-chung.md"
    path.write_text(SOURCE, encoding="utf-8")
    _import(runner, folder)
    path.write_text(SOURCE.replace("khi đến lượt", "đúng lịch hẹn"), encoding="utf-8")
    result = _import(runner, folder)
    assert "1 updated" in result.output
    script = db.session.query(Script).one()
    assert [v.number for v in script.versions] == [1, 2]
    assert "đúng lịch hẹn" in script.current_version.body


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Không có phần đầu", "thiếu phần đầu YAML"),
        ("---\ntitle: [\n---\nx", "YAML không đọc được"),
        (SOURCE.replace("unit: D", "unit: KHONG"), "không có đơn vị mã"),
        (SOURCE.replace("priority: ưu tiên", "priority: gấp"), "priority phải là"),
        (SOURCE.replace("valid_until: 2021-12-31", "valid_until: 2021-01-01"), "hết hiệu lực"),
        (SOURCE.replace("Thưa bà con, hãy đi tiêm khi đến lượt.", ""), "không được để trống"),
    ],
)
def test_bad_file_is_reported_and_others_still_import(runner, folder, text, message):
    (folder / "a-hong.md").write_text(text, encoding="utf-8")
    (folder / "b-tot.md").write_text(SOURCE, encoding="utf-8")
    result = _import(runner, folder)
    assert result.exit_code == 1
    assert message in result.output
    assert [s.source_key for s in db.session.query(Script)] == ["b-tot"]


def test_shipped_scripts_parse_and_are_nfc():
    files = sorted((ROOT / "scripts_vi").glob("*.md"))
    files = [f for f in files if f.name != "README.md"]
    assert len(files) >= 4
    for path in files:
        meta, body = parse_source(path.read_text(encoding="utf-8"), path.name)
        assert meta["title"] and meta["campaign"] == "Tiêm chủng COVID-19 đợt 6"
        assert meta["source"]["number"] == "855/BCĐ-TBTTTT"
        assert 500 < len(body) < 20_000


def test_shipped_scripts_import_into_demo_units(runner, app):
    from app.demo.cli import load_demo

    shutil.copytree(ROOT / "scripts_vi", app.config["SCRIPTS_DIR"])
    load_demo(Path(app.config["SCRIPTS_DIR"]))
    scripts = db.session.query(Script).all()
    assert len(scripts) >= 4
    assert {s.unit.code for s in scripts} == {"BT-PTH"}
