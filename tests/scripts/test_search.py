"""Accent-insensitive search through the search index: the same scripts as a plain
`search_text LIKE '%term%'` for every term, on SQLite (FTS5 trigram) and PostgreSQL (word
vocabulary with pg_trgm and GIN)."""

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, insert, inspect, select, text

from app.auth.service import create_token
from app.core.text import fold
from app.extensions import db
from app.scripts import service
from app.scripts.models import SEARCH_TABLE, Priority, Script, ScriptStatus
from tests.factories import make_script

CORPUS = [
    ("Lịch tiêm chủng tuần này", "Bà con đưa trẻ đi tiêm vắc xin sởi - rubella."),
    ("Phòng chống sốt xuất huyết", "Diệt lăng quăng, bọ gậy; ngủ mùng kể cả ban ngày."),
    ("Cảnh báo ngộ độc cá nóc", "Tuyệt đối không ăn, không chế biến cá nóc."),
    ("Tỷ lệ tiêm đạt 100%", "Đã có 100% số hộ được tuyên truyền, 95 % người lớn đã tiêm."),
    ("Mã số mã_số", 'Nhập mã_hồ_sơ vào ô tìm kiếm; tệp C:\\loa\\tin.txt; “ngoặc” và "kép".'),
    ("Dòng và tab", "dòng một\nDòng hai\ttab ba\u00a0không\u2003cách"),
    ("Đường dây nóng", "Gọi 0252.3812345 hoặc 114; ĐỨC LINH, Đức Linh, đức linh."),
]
QUERIES = [
    "tiem chung",
    "TIÊM",
    "đợt 6",
    "ngo doc ca noc",
    "ca",
    "a",
    "6",
    "c n",
    "100%",
    "0%",
    "%",
    "_",
    "a_s",
    "ma_so",
    "ma_ho_so",
    "\\",
    "c:\\loa",
    '"kep"',
    '"',
    "“ngoac”",
    "mot dong",
    "ba",
    "khong",
    "khongcach",
    "0252.38",
    "duc linh",
    "lang quang bo gay",
    "zzz",
    "ti em",
    "a b c d e f g h i j k",
]


def _expected(terms: list[str], scripts) -> set[int]:
    """What the old LIKE search returned: every term inside the folded search text."""
    return {s.id for s in scripts if all(t in s.search_text for t in terms)}


def _ids(actor, q: str, **filters) -> list[int]:
    query = service.scripts_query(actor, service.ScriptFilter(q=q, **filters))
    return [s.id for s in db.session.scalars(query)]


@pytest.fixture
def corpus(users, org):
    return [
        make_script(users["writer"], org.district, title=title, body=body, campaign="")
        for title, body in CORPUS
    ]


def test_search_index_is_in_place(app, users, corpus):
    assert SEARCH_TABLE in set(inspect(db.engine).get_table_names())
    statements = []

    def remember(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        assert _ids(users["writer"], "tiem chung") == [corpus[0].id]
        assert any(SEARCH_TABLE in s for s in statements)
        assert not any("LIKE" in s and "search_text" in s for s in statements)
        statements.clear()
        # Terms shorter than three characters are matched on the scripts themselves.
        assert _ids(users["writer"], "ca")
        assert not any(SEARCH_TABLE in s for s in statements)
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)


@pytest.mark.parametrize("q", QUERIES)
def test_results_equal_a_plain_substring_search(users, corpus, q):
    scripts = db.session.scalars(select(Script)).all()
    terms = re.findall(r"\S+", fold(q))[:10]
    expected = _expected(terms, scripts)
    assert set(_ids(users["writer"], q)) == expected
    # And the same as the old query itself, run on the database.
    old = select(Script.id).where(
        *(Script.search_text.like(f"%{service._like_escape(t)}%", escape="\\") for t in terms)
    )
    assert set(db.session.scalars(old)) == expected


def test_accents_case_and_order(users, corpus):
    writer = users["writer"]
    tiem = [corpus[0].id, corpus[3].id]
    assert sorted(_ids(writer, "tiem")) == sorted(tiem)
    assert sorted(_ids(writer, "TIÊM")) == sorted(tiem)
    assert _ids(writer, "ngộ ĐỘC cá nóc") == [corpus[2].id]
    assert _ids(writer, "Đức linh") == [corpus[6].id]
    # Newest change first (the clock stands still: then the highest id), as without a search.
    assert _ids(writer, "a") == sorted((s.id for s in corpus), reverse=True)


def test_short_terms_equal_with_and_without_the_index(users, corpus):
    writer = users["writer"]
    assert _ids(writer, "ca") == _ids(writer, "ca ca")
    # "noc" goes through the index, "ca" is checked on what the index found.
    assert _ids(writer, "ca noc") == [corpus[2].id]
    assert _ids(writer, "1 tiem") == [corpus[3].id]
    assert _ids(writer, "xa") == []


def test_like_wildcards_are_literal(users, corpus):
    writer = users["writer"]
    assert _ids(writer, "100%") == [corpus[3].id]
    assert _ids(writer, "0 %") == [corpus[3].id]
    assert _ids(writer, "%") == [corpus[3].id]
    assert _ids(writer, "ma_so") == [corpus[4].id]
    assert _ids(writer, "ma_ho_so") == [corpus[4].id]
    assert _ids(writer, "a_s") == [corpus[4].id]
    # "_" would match any character and "%" anything: "m%o" and "t_em" must find nothing.
    assert _ids(writer, "m%o") == []
    assert _ids(writer, "t_em") == []
    assert _ids(writer, "c:\\loa\\tin") == [corpus[4].id]
    assert _ids(writer, '"kep"') == [corpus[4].id]
    assert _ids(writer, 'kep" OR "tiem') == []


def test_words_split_by_any_whitespace(users, corpus):
    writer = users["writer"]
    assert _ids(writer, "mot dong hai tab") == [corpus[5].id]
    assert _ids(writer, "tab ba\u00a0khong") == [corpus[5].id]
    assert _ids(writer, "khong\u2003cach") == [corpus[5].id]
    assert _ids(writer, "motdong") == []


def test_edited_script_is_found_by_its_new_words_only(users, org, corpus):
    writer = users["writer"]
    script = corpus[1]
    data = service.ScriptInput(
        title="Phòng chống bão số 9",
        body="Bà con chằng chống nhà cửa, neo đậu tàu thuyền.",
        unit=org.district,
        priority=Priority.HIGH,
        campaign="Phòng chống thiên tai",
    )
    service.update_script(writer, script, data, script.revision)
    assert _ids(writer, "chang chong nha cua") == [script.id]
    assert _ids(writer, "bao so 9") == [script.id]
    assert _ids(writer, "thien tai") == [script.id]
    assert _ids(writer, "lang quang") == []
    assert _ids(writer, "sot xuat huyet") == []
    assert script.id not in _ids(writer, "tiem chung")

    # Metadata alone changes the search text too.
    data.title = "Ứng phó áp thấp nhiệt đới"
    service.update_script(writer, script, data, script.revision)
    assert _ids(writer, "ap thap nhiet doi") == [script.id]
    assert _ids(writer, "bao so 9") == []
    assert _ids(writer, "neo dau") == [script.id]


def test_archived_and_other_units_excluded_as_before(users, org, corpus):
    writer, supervisor = users["writer"], users["supervisor"]
    elsewhere = make_script(
        users["outsider"], org.other_district, title="Tiêm chủng ở La Gi", body="Tiêm chủng."
    )
    archived = corpus[0]
    service.archive_script(supervisor, archived)
    assert _ids(writer, "tiem chung") == [corpus[0].id]
    assert _ids(supervisor, "tiem chung") == [elsewhere.id, corpus[0].id]
    assert _ids(users["outsider"], "tiem chung") == [elsewhere.id]
    assert _ids(writer, "tiem chung", status=ScriptStatus.ARCHIVED) == [archived.id]
    assert _ids(writer, "tiem chung", status=ScriptStatus.DRAFT) == []
    assert _ids(supervisor, "tiem chung", status=ScriptStatus.DRAFT) == [elsewhere.id]
    assert _ids(supervisor, "tiem", unit_id=org.other_district.id) == [elsewhere.id]
    assert _ids(supervisor, "tiem", priority=Priority.NORMAL) == []


def test_bulk_inserted_rows_are_indexed(users, org):
    """Rows written with Core, bypassing the service (as imports and the benchmark do)."""
    now = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    rows = [
        {
            "unit_id": org.district.id,
            "title": f"Tin số {i}",
            "priority": Priority.NORMAL,
            "status": ScriptStatus.DRAFT,
            "created_at": now,
            "updated_at": now,
            "search_text": fold(f"Tin số {i} thông báo khẩn cấp {'cá nóc' if i % 2 else ''}"),
        }
        for i in range(6)
    ]
    db.session.execute(insert(Script.__table__), rows)
    db.session.commit()
    writer = users["writer"]
    assert len(_ids(writer, "thong bao khan cap")) == 6
    assert len(_ids(writer, "ca noc")) == 3
    db.session.execute(
        Script.__table__.update().values(search_text="da sua").where(Script.title == "Tin số 1")
    )
    db.session.execute(Script.__table__.delete().where(Script.title == "Tin số 3"))
    db.session.commit()
    assert len(_ids(writer, "ca noc")) == 1
    assert len(_ids(writer, "da sua")) == 1
    if db.engine.dialect.name == "sqlite":
        # The FTS5 index agrees with its content table.
        check = f"INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}) VALUES ('integrity-check')"
        db.session.execute(text(check))


def test_api_search_uses_the_same_rules(app, users, corpus):
    _, token = create_token(users["writer"], "test")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    data = client.get("/api/v1/scripts?q=100%25", headers=headers).get_json()
    assert (data["total"], [s["id"] for s in data["items"]]) == (1, [corpus[3].id])
    data = client.get("/api/v1/scripts?q=tiem chung&per_page=1", headers=headers).get_json()
    assert (data["total"], [s["id"] for s in data["items"]]) == (1, [corpus[0].id])
    data = client.get("/api/v1/scripts?q=ca noc", headers=headers).get_json()
    assert (data["total"], [s["id"] for s in data["items"]]) == (1, [corpus[2].id])
