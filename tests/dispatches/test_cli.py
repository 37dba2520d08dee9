"""`flask dispatches read FILE` prints the fields as JSON, and refuses bad input in Vietnamese."""

from __future__ import annotations

import json

from app.dispatches.reader import FIELDS
from tests.dispatches.cases import NO_NUMBER
from tests.dispatches.render import render_pdf, render_scanned_pdf, seed_text


def test_read_prints_the_fields_as_json(runner, tmp_path):
    path = tmp_path / "cong-van.pdf"
    path.write_bytes(render_pdf(seed_text()))
    result = runner.invoke(args=["dispatches", "read", str(path)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert list(data) == list(FIELDS)
    assert (data["number"], data["code"], data["date"]) == (855, "BCĐ-TBTTTT", "2021-08-30")
    assert data["cites"][0] == {
        "kind": "kế hoạch",
        "number": 1286,
        "code": "KH-UBND",
        "date": "2021-04-16",
        "issuer": "Ủy ban Nhân dân tỉnh Bình Thuận",
    }
    assert "TIỂU BAN THÔNG TIN TUYÊN TRUYỀN" in result.output  # ensure_ascii=False


def test_read_from_standard_input(runner):
    result = runner.invoke(args=["dispatches", "read", "-"], input=seed_text().encode())
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["urgency"] == "HỎA TỐC"


def test_file_that_is_not_what_its_name_says_exits_1_with_a_message(runner, tmp_path):
    path = tmp_path / "cong-van.pdf"
    path.write_text("Kính gửi: các xã.", encoding="utf-8")
    result = runner.invoke(args=["dispatches", "read", str(path)])
    assert result.exit_code == 1
    assert "Lỗi: Tệp “cong-van.pdf” không đúng như tên của nó" in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_missing_and_encrypted_files_exit_1(runner, tmp_path):
    result = runner.invoke(args=["dispatches", "read", str(tmp_path / "khong-co.pdf")])
    assert result.exit_code == 1
    assert "Không có tệp" in result.output
    locked = tmp_path / "khoa.pdf"
    locked.write_bytes(render_pdf("Số: 1/UBND", password="x"))
    result = runner.invoke(args=["dispatches", "read", str(locked)])
    assert result.exit_code == 1
    assert "PDF có mật khẩu" in result.output


def test_size_limit_comes_from_the_config(app, runner, tmp_path):
    app.config["DISPATCH_MAX_BYTES"] = 100
    path = tmp_path / "cong-van.txt"
    path.write_text(seed_text(), encoding="utf-8")
    result = runner.invoke(args=["dispatches", "read", str(path)])
    assert result.exit_code == 1
    assert "Tệp quá lớn" in result.output


def test_dispatch_without_number_prints_fields_then_exits_1(runner, tmp_path):
    path = tmp_path / "khong-so.txt"
    path.write_text(NO_NUMBER.text, encoding="utf-8")
    result = runner.invoke(args=["dispatches", "read", str(path)])
    assert result.exit_code == 1
    assert '"number": null' in result.output
    assert "cảnh báo: Văn bản không có số" in result.output


def test_scan_without_ocr_installed_exits_1_saying_what_to_install(app, runner, tmp_path):
    app.config["TESSERACT_BINARY"] = str(tmp_path / "khong-co-tesseract")
    path = tmp_path / "scan.pdf"
    path.write_bytes(render_scanned_pdf("Số: 1/UBND-VX\nKính gửi: các xã.", dpi=100))
    result = runner.invoke(args=["dispatches", "read", str(path)])
    assert result.exit_code == 1
    assert "OCR chưa được cài đặt" in result.output
    assert "tesseract-ocr và tesseract-ocr-vie" in result.output
