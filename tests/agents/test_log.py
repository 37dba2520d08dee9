"""The station's log from its agent: the chain head the server holds, batches that continue it
(stored with the agent's times and the server's receipt time, airings moved, totals kept),
sent again without harm, and every bad batch refused whole with nothing stored."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.agents import ingest, service
from app.agents.models import Agent
from app.api.schemas import LogBatchIn
from app.audit.models import AuditEvent
from app.auth.service import create_token
from app.broadcast import totals
from app.broadcast.models import GENESIS_HASH, BroadcastLog, LogStatus, LogTotal
from app.broadcast.service import (
    LogEntry,
    append_log,
    compute_row_hash,
    row_from_json,
    row_json,
    station_rows,
    verify_chain,
)
from app.extensions import db
from app.org.models import PlayoutMode
from app.playout import runner
from app.schedules.models import Airing, AiringStatus
from app.scripts.models import Priority
from tests.agents.conftest import agent_chain, agent_row, rehash, station_airings
from tests.api.conftest import assert_error
from tests.broadcast.test_log import tamper
from tests.factories import make_unit

LOG = "/api/v1/agent/log"


def head(caller) -> dict:
    response = caller.get(LOG)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def upload(caller, rows: list[dict]):
    return caller.post(LOG, json={"rows": rows})


def central_rows(station, n: int) -> list[BroadcastLog]:
    """n live-read rows written on the server while the station is aired centrally."""
    return [
        append_log(
            LogEntry(
                station_id=station.id,
                status=LogStatus.AIRED,
                started_at=datetime(2026, 11, 27, 0, i, 30, tzinfo=UTC),
                duration_s=30.0,
                reason="đọc trực tiếp",
                runner_host="server",
            )
        )
        for i in range(n)
    ]


def snapshot(station) -> tuple:
    """Everything a batch could change: the station's rows, the airings, the totals."""
    db.session.expire_all()
    rows = db.session.scalar(select(func.count()).select_from(BroadcastLog))
    airings = [(a.airing_key, a.status) for a in station_airings(station)]
    kept = db.session.execute(select(func.count(), func.sum(LogTotal.n))).one()
    return rows, airings, tuple(kept)


@pytest.fixture
def agent(desk, enrolled):
    """The commune's agent, synced once. The station's mode does not matter to uploads: an
    agent switched back to central still sends the rows it wrote before it heard."""
    caller = enrolled(desk.commune, "Máy xã")
    caller.get("/api/v1/agent/plan")
    return caller


# --- The head ---------------------------------------------------------------------------------


def test_the_head_of_a_station_without_rows_is_the_genesis(desk, agent):
    assert head(agent) == {"seq": 0, "row_hash": GENESIS_HASH, "row": None, "chain_flag": None}


def test_the_head_is_the_newest_row_and_rebuilds_with_its_hash(desk, enrolled, clock):
    caller = enrolled(desk.commune)
    central_rows(desk.city, 1)
    # A time with no microseconds still comes out with six digits.
    clock.current = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    rows = central_rows(desk.commune, 2)
    body = head(caller)
    newest = rows[-1]
    assert (body["seq"], body["row_hash"]) == (2, newest.row_hash)
    row = body["row"]
    assert row["id"] == newest.id
    assert row["created_at"] == "2026-11-27T01:00:00.000000+00:00"
    assert row["started_at"] == "2026-11-27T00:01:30.000000+00:00"
    assert row["duration_s"] == 30.0 and isinstance(row["duration_s"], float)
    assert (row["status"], row["priority"]) == ("aired", "normal")
    assert row["prev_hash"] == rows[0].row_hash
    # A client rebuilds the row from its JSON alone and gets the same hash.
    rebuilt = row_from_json(json.loads(json.dumps(row)))
    assert compute_row_hash(rebuilt) == body["row_hash"]


# --- Batches that continue the chain ----------------------------------------------------------


def test_a_batch_continuing_the_chain_is_stored_as_the_agent_wrote_it(desk, agent, clock):
    before = central_rows(desk.commune, 1)[0]
    airings = station_airings(desk.commune)[:3]
    rows = agent_chain(desk.commune, airings, after=(1, before.row_hash))
    clock.advance(hours=30)  # uploaded long after: the agent was offline
    response = upload(agent, rows)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "accepted": 3,
        "duplicates": 0,
        "head": {"seq": 4, "row_hash": rows[-1]["row_hash"]},
    }
    stored = station_rows(desk.commune.id)
    assert [r.seq for r in stored] == [1, 2, 3, 4]
    for row, sent in zip(stored[1:], rows, strict=True):
        assert row.row_hash == sent["row_hash"] == compute_row_hash(row)
        # The agent's own time, to the microsecond, and the server's receipt time.
        assert row.created_at.isoformat(timespec="microseconds") == sent["created_at"]
        assert row.received_at == clock.now()
        assert (row.unit_id, row.runner_host) == (desk.commune.unit_id, sent["runner_host"])
    assert before.received_at is None
    db.session.expire_all()
    assert [a.status for a in station_airings(desk.commune)[:4]] == [
        AiringStatus.AIRED,
        AiringStatus.AIRED,
        AiringStatus.AIRED,
        AiringStatus.PLANNED,
    ]
    # Counted in the daily totals exactly like central rows, and the chain verifies.
    assert totals.check_totals() == []
    aired = db.session.scalar(
        select(func.sum(LogTotal.n)).where(
            LogTotal.station_id == desk.commune.id, LogTotal.scheduled.is_(True)
        )
    )
    assert aired == 3
    assert verify_chain(desk.commune.id).ok
    assert head(agent)["seq"] == 4


def test_the_first_batch_of_a_new_station_starts_the_chain(desk, agent):
    rows = agent_chain(desk.commune, station_airings(desk.commune)[:2])
    assert rows[0]["prev_hash"] == GENESIS_HASH
    assert upload(agent, rows).get_json()["accepted"] == 2
    assert verify_chain(desk.commune.id).ok


def test_sending_a_batch_again_stores_nothing_twice(desk, agent):
    airings = station_airings(desk.commune)
    rows = agent_chain(desk.commune, airings[:4])
    assert upload(agent, rows[:2]).get_json()["accepted"] == 2
    after_first = snapshot(desk.commune)
    again = upload(agent, rows[:2]).get_json()
    assert again == {
        "accepted": 0,
        "duplicates": 2,
        "head": {"seq": 2, "row_hash": rows[1]["row_hash"]},
    }
    assert snapshot(desk.commune) == after_first
    # A batch that overlaps what the server has: the old rows are skipped, the rest stored.
    overlap = upload(agent, rows[1:]).get_json()
    assert (overlap["accepted"], overlap["duplicates"], overlap["head"]["seq"]) == (2, 1, 4)
    assert [r.seq for r in station_rows(desk.commune.id)] == [1, 2, 3, 4]
    assert totals.check_totals() == []


def test_an_empty_batch_answers_the_head(desk, agent):
    assert upload(agent, []).get_json() == {
        "accepted": 0,
        "duplicates": 0,
        "head": {"seq": 0, "row_hash": GENESIS_HASH},
    }


def test_a_missed_airing_and_a_live_read_move_and_stay_as_written(desk, agent, users):
    airing = station_airings(desk.commune)[0]
    rows = agent_chain(
        desk.commune,
        [airing],
        status=LogStatus.MISSED,
        reason="bỏ lỡ: bộ phát không chạy",
        started_at=None,
        ended_at=None,
        duration_s=None,
    )
    rows += agent_chain(
        desk.commune,
        [None],
        after=(1, rows[0]["row_hash"]),
        operator_id=users["operator"].id,
        reason="đọc trực tiếp: họp tổ dân phố",
    )
    assert upload(agent, rows).get_json()["accepted"] == 2
    db.session.expire_all()
    assert db.session.get(Airing, airing.id).status == AiringStatus.MISSED
    live = station_rows(desk.commune.id)[1]
    assert (live.operator_id, live.airing_key, live.planned_at) == (
        users["operator"].id,
        None,
        None,
    )
    assert totals.check_totals() == []


def test_a_requeued_airing_gets_its_server_copy(desk, agent):
    base = station_airings(desk.commune)[0]
    again_at = base.sequenced_at + timedelta(minutes=3, seconds=10)
    key = f"{base.airing_key}~r{again_at:%Y%m%dT%H%M%S}"
    cut = agent_row(
        desk.commune,
        (0, GENESIS_HASH),
        base,
        status=LogStatus.INTERRUPTED,
        reason="bị ngắt: phát khẩn cấp",
    )
    requeued = agent_row(
        desk.commune,
        (1, cut.row_hash),
        base,
        airing_key=key,
        planned_at=again_at,
        started_at=again_at,
        ended_at=again_at + timedelta(seconds=12.5),
        created_at=again_at + timedelta(seconds=14),
    )
    rows = [row_json(cut), row_json(requeued)]
    assert upload(agent, rows).get_json()["accepted"] == 2
    db.session.expire_all()
    assert db.session.get(Airing, base.id).status == AiringStatus.INTERRUPTED
    copy = db.session.scalars(select(Airing).where(Airing.airing_key == key)).one()
    assert copy.requeued_from_id == base.id
    assert copy.status == AiringStatus.AIRED
    assert (copy.sequenced_at, copy.planned_at) == (again_at, base.planned_at)
    assert (copy.station_id, copy.render_id, copy.session_name) == (
        base.station_id,
        base.render_id,
        base.session_name,
    )
    # Reports see the repeat as a repeat, not as another planned airing.
    assert db.session.scalar(select(func.sum(LogTotal.n)).where(LogTotal.is_repeat.is_(True))) == 1


def test_a_row_for_an_airing_the_server_does_not_know_is_stored_anyway(desk, agent):
    rows = agent_chain(desk.commune, [None], airing_key="9999:1:20261128T000000Z")
    assert upload(agent, rows).get_json()["accepted"] == 1
    assert station_rows(desk.commune.id)[0].airing_key == "9999:1:20261128T000000Z"


def test_rows_of_a_station_that_moved_while_the_agent_was_offline(desk, agent, org):
    first = agent_chain(desk.commune, station_airings(desk.commune)[:1])
    assert upload(agent, first).get_json()["accepted"] == 1
    old_unit = desk.commune.unit_id
    desk.commune.unit = make_unit("C2", "Phường mới", parent=org.district)
    db.session.commit()
    # Written before the agent heard of the move: the old unit, as the row before.
    rows = agent_chain(
        desk.commune,
        station_airings(desk.commune)[1:2],
        after=(1, first[0]["row_hash"]),
        unit_id=old_unit,
    )
    assert upload(agent, rows).get_json()["accepted"] == 1
    # Then the new one; going back to the old unit after that is refused.
    rows = agent_chain(
        desk.commune,
        station_airings(desk.commune)[2:4],
        after=(2, rows[0]["row_hash"]),
        unit_id=desk.commune.unit_id,
    )
    rows[1] = rehash({**rows[1], "unit_id": old_unit})
    assert_error(upload(agent, rows), 403, "row_refused", "unit_id")
    assert upload(agent, rows[:1]).get_json()["accepted"] == 1


# --- Bad batches: refused whole, nothing stored ------------------------------------------------


def _forged(rows, airings):
    rows[1] = {**rows[1], "row_hash": "a" * 64}
    return rows


def _altered(rows, airings):
    # Someone changed what the row says after the agent hashed it.
    rows[1] = {**rows[1], "status": "aired_late"}
    return rows


def _reordered(rows, airings):
    return [rows[0], rows[2], rows[1]]


def _gap(rows, airings):
    return [rows[0], rows[2]]


def _starts_past_the_head(rows, airings):
    return rows[1:]


def _wrong_prev_hash(rows, airings):
    # A well-hashed row that links to something else.
    rows[1] = rehash({**rows[1], "prev_hash": "b" * 64})
    return rows


def _correction(rows, airings):
    rows[2] = rehash({**rows[2], "corrects_id": 1, "corrects_hash": rows[0]["row_hash"]})
    return rows


def _old_hash_version(rows, airings):
    rows[0] = rehash({**rows[0], "hash_version": 1})
    return rows


BREAKS = {
    "forged hash": (_forged, 2, "mã băm không khớp"),
    "altered field": (_altered, 2, "mã băm không khớp"),
    "reordered rows": (_reordered, 3, "liên tiếp và đúng thứ tự"),
    "gap": (_gap, 3, "liên tiếp và đúng thứ tự"),
    "first row past the head": (_starts_past_the_head, 2, "thiếu dòng #1"),
    "wrong prev_hash": (_wrong_prev_hash, 2, "không nối với mã băm của dòng #1"),
    "correction row": (_correction, 3, "dòng sửa"),
    "unsupported hash_version": (_old_hash_version, 1, "phiên bản mã băm 1"),
}


@pytest.mark.parametrize("case", list(BREAKS))
def test_a_batch_that_breaks_the_chain_is_refused_whole_and_flags(desk, agent, case, clock):
    change, seq, problem = BREAKS[case]
    airings = station_airings(desk.commune)[:3]
    rows = change(agent_chain(desk.commune, airings), airings)
    before = snapshot(desk.commune)
    body = upload(agent, rows).get_json()
    assert body["error"] == "chain_broken", body
    assert body["seq"] == seq
    assert problem in body["message"] and problem in body["fields"]["seq"]
    assert "không dòng nào được ghi" in body["message"]
    assert snapshot(desk.commune) == before
    db.session.expire_all()
    flagged = db.session.get(Agent, agent.agent.id)
    assert (flagged.chain_broken_at, flagged.chain_broken_seq) == (clock.now(), seq)
    assert problem in flagged.chain_broken_reason
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "agent.chain_broken")
    ).one()
    assert event.object_id == agent.agent.id and f"#{seq}" in event.summary
    assert head(agent)["chain_flag"]["seq"] == seq


def test_a_row_the_server_holds_with_another_hash_breaks_the_chain(desk, agent):
    airings = station_airings(desk.commune)
    rows = agent_chain(desk.commune, airings[:2])
    assert upload(agent, rows).get_json()["accepted"] == 2
    # The same seq written again, differently (a second PC, or a restored backup).
    other = agent_chain(desk.commune, [airings[2]], after=(1, rows[0]["row_hash"]))
    before = snapshot(desk.commune)
    body = upload(agent, other).get_json()
    assert body["error"] == "chain_broken" and body["seq"] == 2
    assert "máy chủ đã có dòng #2 của đài với mã băm khác" in body["message"]
    assert snapshot(desk.commune) == before


def test_a_flagged_station_takes_no_batch_until_the_flag_is_cleared(desk, agent, runner):
    airings = station_airings(desk.commune)
    good = agent_chain(desk.commune, airings[:2])
    assert upload(agent, _forged(list(good), airings)).status_code == 409
    refused = upload(agent, good)
    body = refused.get_json()
    assert refused.status_code == 409 and body["error"] == "chain_broken"
    assert "đã bị đánh dấu đứt lúc 08:00 ngày 27/11/2026" in body["message"]
    assert f"flask agents clear-flag {agent.agent.id}" in body["message"]
    assert db.session.scalar(select(func.count()).select_from(BroadcastLog)) == 0
    result = runner.invoke(args=["agents", "clear-flag", str(agent.agent.id)])
    assert result.exit_code == 0, result.output
    assert "Cleared the chain flag" in result.output
    assert upload(agent, good).get_json()["accepted"] == 2
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "agent.chain_flag_clear")
    ).one()
    assert event.details["flag"]["seq"] == 2 and event.actor_name == "hệ thống"
    again = runner.invoke(args=["agents", "clear-flag", str(agent.agent.id)])
    assert again.exit_code == 1 and "không bị đánh dấu" in again.output
    listed = runner.invoke(args=["agents", "list"]).output
    assert listed.strip().splitlines()[1].endswith("\tok")


def test_rows_of_another_station_are_refused_without_flagging(desk, agent, enrolled):
    city = station_airings(desk.city)
    rows = agent_chain(desk.city, city[:2])
    before = snapshot(desk.commune)
    body = assert_error(upload(agent, rows), 403, "row_refused", "station_id")
    assert "Đài Phú Thủy" in body["message"]
    # Another station's agent sending the commune's rows: the same.
    own = agent_chain(desk.commune, station_airings(desk.commune)[:2])
    city_agent = enrolled(desk.city)
    assert_error(upload(city_agent, own), 403, "row_refused", "station_id")
    assert snapshot(desk.commune) == before
    db.session.expire_all()
    assert not db.session.get(Agent, agent.agent.id).chain_flagged
    assert not db.session.get(Agent, city_agent.agent.id).chain_flagged


def test_a_row_naming_another_stations_airing_is_refused(desk, agent):
    city = station_airings(desk.city)[0]
    rows = agent_chain(desk.commune, [None], airing_key=city.airing_key)
    before = snapshot(desk.commune)
    assert_error(upload(agent, rows), 403, "row_refused", "airing_key")
    assert snapshot(desk.commune) == before
    db.session.expire_all()
    assert db.session.get(Airing, city.id).status == AiringStatus.PLANNED


def test_a_row_naming_what_the_server_lacks_is_refused(desk, agent):
    rows = agent_chain(desk.commune, [None], script_id=99999)
    before = snapshot(desk.commune)
    body = assert_error(upload(agent, rows), 422, "validation_failed", "script_id")
    assert "kịch bản mã 99999 không có trên máy chủ" in body["message"]
    assert snapshot(desk.commune) == before


def test_an_oversized_batch_is_refused(desk, agent):
    airing = station_airings(desk.commune)[0]
    row = agent_chain(desk.commune, [airing])[0]
    before = snapshot(desk.commune)
    many = assert_error(upload(agent, [row] * 1001), 413, "http_413")
    assert "tối đa 1000 dòng" in many["message"]
    huge = {**row, "reason": "x" * 2000}
    big = agent.post(LOG, data=json.dumps({"rows": [huge] * 600}), content_type="application/json")
    assert_error(big, 413, "http_413")
    assert snapshot(desk.commune) == before


@pytest.mark.parametrize(
    ("change", "status", "code", "field"),
    [
        (
            lambda r: {k: v for k, v in r.items() if k != "prev_hash"},
            422,
            "validation_failed",
            "rows.prev_hash",
        ),
        (lambda r: {**r, "id": 5}, 400, "unknown_fields", "rows.id"),
        (
            lambda r: {**r, "created_at": "2026-11-28 05:45"},
            422,
            "validation_failed",
            "rows.created_at",
        ),
        (lambda r: {**r, "status": "claimed"}, 422, "validation_failed", "rows.status"),
        (lambda r: {**r, "duration_s": "12.5"}, 422, "validation_failed", "rows.duration_s"),
        (lambda r: {**r, "row_hash": "ABC"}, 422, "validation_failed", "rows.row_hash"),
        (lambda r: {**r, "reason": "a\x00b"}, 422, "validation_failed", "rows.reason"),
    ],
)
def test_malformed_rows_are_refused_without_flagging(desk, agent, change, status, code, field):
    row = agent_chain(desk.commune, station_airings(desk.commune)[:1])[0]
    assert_error(upload(agent, [change(row)]), status, code, field)
    db.session.expire_all()
    assert not db.session.get(Agent, agent.agent.id).chain_flagged
    assert db.session.scalar(select(func.count()).select_from(BroadcastLog)) == 0


def test_a_revoked_agent_uploads_nothing(desk, agent):
    rows = agent_chain(desk.commune, station_airings(desk.commune)[:1])
    service.revoke_agent(None, agent.agent)
    assert_error(upload(agent, rows), 403, "agent_revoked")
    assert_error(agent.get(LOG), 403, "agent_revoked")
    assert db.session.scalar(select(func.count()).select_from(BroadcastLog)) == 0


def test_logs_verify_checks_ingested_rows_like_central_ones(desk, agent, runner):
    before = central_rows(desk.commune, 2)[-1]
    rows = agent_chain(desk.commune, station_airings(desk.commune)[:3], after=(2, before.row_hash))
    assert upload(agent, rows).get_json()["accepted"] == 3
    result = runner.invoke(args=["logs", "verify", "--station", "PT-PHUTHUY"])
    assert result.exit_code == 0, result.output
    assert "đã kiểm tra 5 dòng" in result.output
    # The check covers the agent's rows: one altered in the database is found.
    row = station_rows(desk.commune.id)[3]
    tamper("UPDATE broadcast_log SET reason = 'sửa lén' WHERE id = :id", id=row.id)
    broken = runner.invoke(args=["logs", "verify"])
    assert broken.exit_code == 1
    assert "Dòng #4 của đài PT-PHUTHUY đã bị sửa" in broken.output


def test_the_log_api_shows_when_the_server_received_an_agents_row(desk, agent, users, client):
    rows = agent_chain(desk.commune, station_airings(desk.commune)[:1])
    upload(agent, rows)
    _, token = create_token(users["operator"], "thử")
    listed = client.get(
        "/api/v1/logs?station=PT-PHUTHUY", headers={"Authorization": f"Bearer {token}"}
    ).get_json()["items"]
    assert listed[0]["received_at"] == "2026-11-27T08:00:00+07:00"
    assert listed[0]["runner_host"] == "agent:PT-PHUTHUY:may-xa"


def test_the_central_runner_and_the_agent_write_one_chain_across_a_switch(desk, enrolled, clock):
    """Rows written centrally before the switch, then the agent's: one chain that verifies."""
    caller = enrolled(desk.commune)
    caller.get("/api/v1/agent/plan")
    central_rows(desk.commune, 2)
    service.set_playout_mode(None, desk.commune, PlayoutMode.AGENT)
    base = head(caller)
    rows = agent_chain(
        desk.commune, station_airings(desk.commune)[:2], after=(base["seq"], base["row_hash"])
    )
    assert upload(caller, rows).get_json()["head"]["seq"] == 4
    assert verify_chain(desk.commune.id).ok
    assert runner.AGENT_HOST == "agent"


def test_totals_of_many_rows_in_one_batch_match_a_rebuild(desk, agent):
    airings = station_airings(desk.commune)
    rows = agent_chain(desk.commune, airings)
    assert upload(agent, rows).get_json()["accepted"] == len(airings) == 14
    assert totals.check_totals() == []
    kept = {(t.day, t.n, t.seconds) for t in db.session.scalars(select(LogTotal))}
    totals.rebuild_totals()
    assert {(t.day, t.n, t.seconds) for t in db.session.scalars(select(LogTotal))} == kept
    assert all(t.priority == Priority.HIGH for t in db.session.scalars(select(LogTotal)))


def test_the_same_batch_sent_twice_at_once_is_stored_once(app, desk, agent):
    rows = agent_chain(desk.commune, station_airings(desk.commune)[:6])
    values = [r.model_dump() for r in LogBatchIn.model_validate({"rows": rows}).rows]
    agent_id = agent.agent.id
    db.session.commit()
    barrier = threading.Barrier(2)
    results, errors = [], []

    def send() -> None:
        with app.app_context():
            try:
                barrier.wait()
                results.append(ingest.ingest_batch(db.session.get(Agent, agent_id), values))
            except BaseException as exc:
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted((r.accepted, r.duplicates) for r in results) == [(0, 6), (6, 0)]
    db.session.expire_all()
    assert [r.seq for r in station_rows(desk.commune.id)] == [1, 2, 3, 4, 5, 6]
    assert verify_chain(desk.commune.id).ok and totals.check_totals() == []
