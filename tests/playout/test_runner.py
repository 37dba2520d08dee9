"""The playout runner: each airing claimed and logged once, misses and failures logged, one
runner active."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import func, select

from app.broadcast.models import BroadcastLog, LogStatus
from app.core.clock import LOCAL_TZ, FixedClock
from app.extensions import db
from app.org.models import Station
from app.playout import runner
from app.playout.outputs import Output, OutputError, PlayResult, get_output
from app.schedules import service
from app.schedules.models import Airing, AiringStatus
from app.speech.service import audio_dir
from tests.factories import make_render, make_station
from tests.schedules.test_service import START, approved_script, times_rule, with_sessions

HOST = "runner-a"


@pytest.fixture
def spots(org, users, clock):
    """One schedule airing at 05:45 on 28/11 on two stations; sequenced to 05:30 (22:30 UTC)."""
    script = approved_script(users, org.district)
    stations = [
        with_sessions(make_station(org.commune, "PT-PHUTHUY")),
        with_sessions(make_station(org.district, "PT-CITY")),
    ]
    data = service.ScheduleInput(
        script=script, recurrence=times_rule(time(5, 45), end=START), stations=stations
    )
    service.create_schedule(users["operator"], data)
    airings = db.session.scalars(select(Airing).order_by(Airing.station_id)).all()
    assert len(airings) == 2
    assert all(a.sequenced_at == datetime(2026, 11, 27, 22, 30, tzinfo=UTC) for a in airings)
    clock.current = airings[0].sequenced_at
    return airings


def simulate(clock):
    """The simulate output on the test clock."""
    return get_output("simulate", {}, clock=clock)


def log_rows() -> list[BroadcastLog]:
    """Every log row, oldest first."""
    return db.session.scalars(select(BroadcastLog).order_by(BroadcastLog.id)).all()


def status_of(airing: Airing) -> AiringStatus:
    """The airing's status as stored now."""
    db.session.expire_all()
    return db.session.get(Airing, airing.id).status


class BrokenOutput(Output):
    """An output that always fails, counting its attempts."""

    name = "broken"
    label = "Hỏng"

    def __init__(self, clock, retryable=False):
        super().__init__({}, clock=clock)
        self.retryable = retryable
        self.attempts = 0

    def check(self):
        """Never works."""

    def play(self, path, duration_s, *, stop=None, meta=None):
        """Fail."""
        self.attempts += 1
        message = "Máy chủ Icecast không trả lời."
        raise OutputError(message, output="broken", retryable=self.retryable)


class CutOutput(Output):
    """An output that gets stopped a moment into the airing."""

    name = "cut"
    label = "Bị ngắt"

    def check(self):
        """Always works."""

    def play(self, path, duration_s, *, stop=None, meta=None):
        """Play 0.1 s, then report being stopped."""
        started = self._now()
        self.clock.advance(seconds=0.1)
        return PlayResult(started, self._now(), 0.1, completed=False, detail="khẩn cấp chen ngang")


def test_on_time_airing_logs_one_aired_row_with_hashes(spots, clock):
    airing = spots[0]
    row = runner.air(airing.id, output=simulate(clock), clock=clock, host=HOST)

    assert row.status == LogStatus.AIRED and row.reason == ""
    assert row.planned_at == airing.sequenced_at and row.started_at == airing.sequenced_at
    assert row.ended_at == airing.sequenced_at + timedelta(seconds=0.2)
    assert row.duration_s == pytest.approx(0.2)
    render = airing.render
    assert (row.audio_sha256, row.spoken_sha256) == (render.audio_sha256, render.spoken_sha256)
    assert (row.script_id, row.version_id, row.render_id) == (
        airing.script_id,
        airing.version_id,
        airing.render_id,
    )
    assert row.schedule_id == airing.schedule_id and row.airing_key == airing.airing_key
    assert row.priority == airing.priority and row.runner_host == HOST
    assert status_of(airing) == AiringStatus.AIRED
    stored = db.session.get(Airing, airing.id)
    assert stored.claimed_by == HOST and stored.claimed_at == row.started_at


def test_two_runners_airing_the_same_spot_log_it_once(spots, clock):
    airing = spots[0]
    first = runner.air(airing.id, output=simulate(clock), clock=clock, host="runner-a")
    second = runner.air(airing.id, output=simulate(clock), clock=clock, host="runner-b")

    assert first is not None and second is None
    assert runner.claim_airing(airing.id, "runner-c") is None
    assert [r.airing_key for r in log_rows()] == [airing.airing_key]


def test_two_runner_threads_racing_log_once(spots, clock, app):
    """Two threads with their own sessions claim the same airing: one row."""
    airing_id = spots[0].id
    results = []
    barrier = threading.Barrier(2)

    def go(host):
        with app.app_context():
            barrier.wait()
            results.append(runner.claim_airing(airing_id, host, clock.now()) is not None)
            db.session.remove()

    threads = [threading.Thread(target=go, args=(h,)) for h in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, True]


def test_late_within_grace_airs_and_says_how_late(spots, clock):
    clock.advance(minutes=3, seconds=12)
    row = runner.air(spots[0].id, output=simulate(clock), clock=clock, host=HOST)

    assert row.status == LogStatus.AIRED_LATE
    assert row.reason == "phát muộn 3 phút 12 giây"
    assert row.planned_at == spots[0].sequenced_at
    assert row.started_at == spots[0].sequenced_at + timedelta(minutes=3, seconds=12)
    assert status_of(spots[0]) == AiringStatus.AIRED_LATE


def test_later_than_grace_is_missed_not_played(spots, clock):
    clock.advance(minutes=7, seconds=3)
    output = BrokenOutput(clock)
    row = runner.air(spots[0].id, output=output, clock=clock, host=HOST)

    assert row.status == LogStatus.MISSED
    assert row.reason == "bỏ lỡ: trễ 7 phút 3 giây, quá thời gian cho phép 5 phút"
    assert row.started_at is None and output.attempts == 0
    assert status_of(spots[0]) == AiringStatus.MISSED


def test_sweep_logs_what_a_stopped_runner_missed_once(spots, clock):
    clock.advance(minutes=10)
    rows = runner.sweep_missed(clock.now(), HOST)

    assert [r.status for r in rows] == [LogStatus.MISSED, LogStatus.MISSED]
    assert {r.reason for r in rows} == {"bỏ lỡ: bộ phát không chạy"}
    assert {r.airing_key for r in rows} == {a.airing_key for a in spots}
    assert runner.sweep_missed(clock.now(), HOST) == []
    assert len(log_rows()) == 2
    assert all(status_of(a) == AiringStatus.MISSED for a in spots)


def test_sweep_leaves_airings_still_within_grace(spots, clock):
    clock.advance(minutes=4)
    assert runner.sweep_missed(clock.now(), HOST) == []
    assert status_of(spots[0]) == AiringStatus.PLANNED


def test_sweep_logs_a_started_airing_abandoned_by_a_crashed_runner_as_interrupted(spots, clock):
    claimed = runner.claim_airing(spots[0].id, "crashed", clock.now())
    assert runner.mark_started(claimed.id, runner.Claim.of(claimed), clock.now())
    clock.advance(minutes=6)
    rows = runner.sweep_missed(clock.now(), HOST)

    by_key = {r.airing_key: r for r in rows}
    assert by_key[spots[0].airing_key].status == LogStatus.INTERRUPTED
    assert by_key[spots[0].airing_key].reason == runner.REASON_CRASHED
    assert by_key[spots[1].airing_key].status == LogStatus.MISSED
    assert status_of(spots[0]) == AiringStatus.INTERRUPTED
    assert runner.sweep_missed(clock.now(), HOST) == []


# --- a runner killed between its claim and the start of the play ---------------------------


class Killed(BaseException):
    """The runner process dying (SIGKILL): nothing after it runs, no row, no status."""


class DyingClock(FixedClock):
    """A clock that kills the runner when it starts waiting (for the airing's second)."""

    def advance(self, **kwargs: float) -> None:
        """Die instead of letting time pass."""
        raise Killed


class DyingOutput(Output):
    """An output that kills the runner while it plays."""

    name = "dying"
    label = "Chết giữa chừng"

    def check(self):
        """Always works."""

    def play(self, path, duration_s, *, stop=None, meta=None):
        """Die a moment into the play."""
        raise Killed


def killed_while_cued(airing: Airing, host: str = "runner-a") -> datetime:
    """The real job path: claimed CUE_AHEAD_S before the airing is due, then the runner is
    killed while it waits for the second. Returns when it was claimed."""
    cued_at = airing.sequenced_at - timedelta(seconds=runner.CUE_AHEAD_S)
    with pytest.raises(Killed):
        runner.air(airing.id, clock=DyingClock(cued_at), host=host, stage=runner.Stage())
    db.session.rollback()
    db.session.expire_all()
    stored = db.session.get(Airing, airing.id)
    assert (stored.status, stored.claimed_by, stored.started_at) == (
        AiringStatus.CLAIMED,
        host,
        None,
    )
    return cued_at


def rows_of(airing: Airing) -> list[BroadcastLog]:
    """The log rows of one airing, oldest first."""
    return [r for r in log_rows() if r.airing_key == airing.airing_key]


def test_claim_abandoned_before_the_play_started_airs_late_once(spots, clock):
    airing = spots[0]
    killed_while_cued(airing)
    # The next runner's first cycle, 40 s after the airing was due: within the grace.
    clock.current = airing.sequenced_at + timedelta(seconds=40)
    runner.run_once(clock, "runner-b")

    rows = rows_of(airing)
    assert [(r.status, r.reason, r.runner_host) for r in rows] == [
        (LogStatus.AIRED_LATE, "phát muộn 40 giây", "runner-b")
    ]
    assert status_of(airing) == AiringStatus.AIRED_LATE
    stored = db.session.get(Airing, airing.id)
    assert stored.claimed_by == "runner-b" and stored.started_at == rows[0].started_at
    # (run_once airs the two due spots one after the other, each 0.2 s on the test clock.)
    late = rows[0].started_at - airing.sequenced_at
    assert timedelta(seconds=40) <= late <= timedelta(seconds=40.2)
    # Nothing more on later cycles, and never the "interrupted" of a play that did not happen.
    clock.advance(minutes=10)
    runner.run_once(clock, "runner-b")
    assert rows_of(airing) == rows


def test_claim_abandoned_before_the_play_is_left_to_its_runner_for_a_while(spots, clock):
    """Its runner may still be about to start it: it is taken for dead ABANDONED_S after
    the airing was due, as a runner lock holder is after STALE_S without a heartbeat."""
    airing = spots[0]
    cued_at = killed_while_cued(airing)
    clock.current = airing.sequenced_at + timedelta(seconds=runner.ABANDONED_S - 1)
    assert runner.sweep_missed(clock.now(), "runner-b") == []
    db.session.expire_all()
    stored = db.session.get(Airing, airing.id)
    assert (stored.status, stored.claimed_by, stored.claimed_at) == (
        AiringStatus.CLAIMED,
        "runner-a",
        cued_at,
    )
    clock.current = airing.sequenced_at + timedelta(seconds=runner.ABANDONED_S + 1)
    assert runner.sweep_missed(clock.now(), "runner-b") == []
    assert status_of(airing) == AiringStatus.PLANNED
    assert rows_of(airing) == []


def test_claim_abandoned_before_the_play_past_the_grace_is_missed_with_its_reason(spots, clock):
    killed_while_cued(spots[0])
    clock.current = spots[0].sequenced_at + timedelta(minutes=6)
    rows = runner.sweep_missed(clock.now(), "runner-b")

    by_key = {r.airing_key: (r.status, r.reason, r.started_at) for r in rows}
    assert by_key == {
        spots[0].airing_key: (LogStatus.MISSED, runner.REASON_STOPPED_BEFORE_START, None),
        spots[1].airing_key: (LogStatus.MISSED, runner.REASON_RUNNER_DOWN, None),
    }
    assert runner.REASON_STOPPED_BEFORE_START == (
        "bỏ lỡ: bộ phát dừng sau khi nhận lượt phát, trước khi phát; đã quá thời gian cho phép"
    )
    assert status_of(spots[0]) == AiringStatus.MISSED
    assert runner.sweep_missed(clock.now(), "runner-b") == []
    assert len(log_rows()) == 2


def test_claim_abandoned_before_the_play_follows_a_skip_station_policy(spots, clock):
    db.session.get(Station, spots[0].station_id).misfire_policy = "skip"
    db.session.commit()
    killed_while_cued(spots[0])
    clock.current = spots[0].sequenced_at + timedelta(seconds=40)
    runner.run_once(clock, "runner-b")

    assert [(r.status, r.reason) for r in rows_of(spots[0])] == [
        (LogStatus.SKIPPED, "bỏ qua: trễ 40 giây, đài chọn không phát muộn")
    ]


def test_started_play_abandoned_by_a_killed_runner_is_still_interrupted(spots, clock):
    airing = spots[0]
    due = airing.sequenced_at
    with pytest.raises(Killed):
        runner.air(airing.id, output=DyingOutput({}, clock=clock), clock=clock, host="runner-a")
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(Airing, airing.id).started_at == due
    # Started: never aired again, even within the grace...
    clock.current = due + timedelta(seconds=40)
    runner.run_once(clock, "runner-b")
    assert rows_of(airing) == [] and status_of(airing) == AiringStatus.CLAIMED
    # ...and once its duration plus the grace has passed, logged interrupted.
    clock.current = due + timedelta(seconds=airing.duration_s + runner.GRACE_S + 1)
    rows = runner.sweep_missed(clock.now(), "runner-b")
    assert [(r.airing_key, r.status, r.reason) for r in rows] == [
        (airing.airing_key, LogStatus.INTERRUPTED, runner.REASON_CRASHED)
    ]
    assert status_of(airing) == AiringStatus.INTERRUPTED


class GatedClock(FixedClock):
    """A clock whose first wait hangs until the test opens the gate: a runner stalled (not
    dead) while its airing is cued, e.g. frozen long enough to lose the runner lock."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self.waiting = threading.Event()
        self.gate = threading.Event()

    def advance(self, **kwargs: float) -> None:
        """Hang on the first call until the gate opens, then move on."""
        self.waiting.set()
        assert self.gate.wait(30), "the test never opened the gate"
        super().advance(**kwargs)


class CountingOutput(Output):
    """Counts the plays it is asked for (and plays instantly)."""

    name = "counting"
    label = "Đếm"

    def __init__(self, clock):
        super().__init__({}, clock=clock)
        self.plays = 0

    def check(self):
        """Always works."""

    def play(self, path, duration_s, *, stop=None, meta=None):
        """Count the play."""
        self.plays += 1
        now = self._now()
        return PlayResult(now, now, duration_s, completed=True)


def test_a_stalled_runner_whose_claim_was_taken_over_does_not_play_it(spots, clock, app):
    """Runner A claims and cues an airing, then stalls; runner B takes the claim for dead,
    airs the airing late. When A wakes up, its claim no longer holds: it does not play."""
    airing_id, due = spots[0].id, spots[0].sequenced_at
    stalled = GatedClock(due - timedelta(seconds=runner.CUE_AHEAD_S))
    output_a = CountingOutput(stalled)
    result = []

    def runner_a():
        with app.app_context():
            try:
                kwargs = {"output": output_a, "clock": stalled, "stage": runner.Stage()}
                result.append(runner.air(airing_id, host="runner-a", **kwargs))
            finally:
                db.session.remove()

    thread = threading.Thread(target=runner_a)
    thread.start()
    try:
        assert stalled.waiting.wait(30)
        clock.current = due + timedelta(seconds=40)
        runner.sweep_missed(clock.now(), "runner-b")
        output_b = CountingOutput(clock)
        row = runner.air(airing_id, output=output_b, clock=clock, host="runner-b")
        assert row is not None and row.status == LogStatus.AIRED_LATE
    finally:
        stalled.gate.set()
        thread.join(timeout=30)
    assert result == [None]
    assert (output_a.plays, output_b.plays) == (0, 1)
    assert [(r.status, r.runner_host) for r in rows_of(spots[0])] == [
        (LogStatus.AIRED_LATE, "runner-b")
    ]
    assert status_of(spots[0]) == AiringStatus.AIRED_LATE


def test_a_runner_that_lost_its_claim_writes_no_row(spots, clock):
    """finish() is fenced on the claim: a runner whose claim was taken over (here: before it
    could log a miss) writes nothing, and the airing keeps the taker's status."""
    airing = runner.claim_airing(spots[0].id, "runner-a", clock.now())
    claim = runner.Claim.of(airing)
    entry = runner.log_entry(airing, airing.render, "runner-a", status=LogStatus.MISSED)
    assert runner._unclaim(airing.id, claim)
    assert runner.claim_airing(airing.id, "runner-b", clock.now()) is not None

    assert runner.finish(airing.id, entry, claim=claim) is None
    assert runner.mark_started(airing.id, claim, clock.now()) is False
    assert log_rows() == []
    assert status_of(spots[0]) == AiringStatus.CLAIMED


def test_deleted_audio_fails_with_reason_and_the_next_airing_still_airs(spots, clock):
    first, second = spots
    # The second airing plays another render, whose file stays.
    second_render = make_render(first.script)
    db.session.get(Airing, second.id).render_id = second_render.id
    db.session.commit()
    (audio_dir() / first.render.audio_path).unlink()

    rows = runner.air_due(clock.now(), clock=clock, host=HOST)

    by_key = {r.airing_key: r for r in rows}
    assert by_key[first.airing_key].status == LogStatus.FAILED
    assert "tệp âm thanh không còn trên máy" in by_key[first.airing_key].reason
    assert by_key[second.airing_key].status == LogStatus.AIRED
    assert by_key[second.airing_key].render_id == second_render.id
    assert status_of(first) == AiringStatus.FAILED


def test_changed_audio_fails_with_reason(spots, clock):
    Path(audio_dir() / spots[0].render.audio_path).write_bytes(b"RIFF not the approved audio")
    row = runner.air(spots[0].id, output=simulate(clock), clock=clock, host=HOST)
    assert row.status == LogStatus.FAILED
    assert "không khớp mã sha256" in row.reason


def test_output_error_fails_with_its_message(spots, clock):
    output = BrokenOutput(clock)
    row = runner.air(spots[0].id, output=output, clock=clock, host=HOST)

    assert row.status == LogStatus.FAILED
    assert row.reason == "lỗi: Máy chủ Icecast không trả lời."
    assert output.attempts == 1
    assert status_of(spots[0]) == AiringStatus.FAILED


def test_retryable_error_is_retried_within_the_grace(spots, clock):
    output = BrokenOutput(clock, retryable=True)
    row = runner.air(spots[0].id, output=output, clock=clock, host=HOST, retries=2)

    assert output.attempts == 3
    assert row.status == LogStatus.FAILED and row.reason.endswith("(sau 3 lần thử)")
    # Retries waited on the clock.
    assert clock.now() == spots[0].sequenced_at + timedelta(seconds=2 * runner.RETRY_WAIT_S)


def test_retries_stop_at_the_grace(spots, clock):
    clock.advance(minutes=4, seconds=58)
    output = BrokenOutput(clock, retryable=True)
    runner.air(spots[0].id, output=output, clock=clock, host=HOST, retries=5)
    assert output.attempts == 1


def test_stopped_airing_is_logged_interrupted(spots, clock):
    row = runner.air(spots[0].id, output=CutOutput({}, clock=clock), clock=clock, host=HOST)
    assert row.status == LogStatus.INTERRUPTED
    assert row.reason == "bị ngắt sau 0 giây (khẩn cấp chen ngang)"
    assert row.duration_s == pytest.approx(0.1)
    assert status_of(spots[0]) == AiringStatus.INTERRUPTED


def test_simulate_stopped_before_it_starts_is_interrupted(spots, clock):
    stop = threading.Event()
    stop.set()
    row = runner.air(spots[0].id, output=simulate(clock), clock=clock, host=HOST, stop=stop)
    assert row.status == LogStatus.INTERRUPTED


def test_format_span():
    assert runner.format_span(432.9) == "7 phút 12 giây"
    assert runner.format_span(300) == "5 phút"
    assert runner.format_span(3725) == "1 giờ 2 phút 5 giây"
    assert runner.format_span(0.4) == "0 giây"


# --- reconcile ------------------------------------------------------------------------------


@pytest.fixture
def scheduler():
    """A real APScheduler, started paused so that nothing fires."""
    sched = runner.make_scheduler()
    assert isinstance(sched, BackgroundScheduler)
    sched.start(paused=True)
    yield sched
    sched.shutdown(wait=False)


def _noop(airing_id):
    """A job function that does nothing."""


def jobs_of(scheduler) -> dict[str, datetime]:
    """Job id -> next run time."""
    return {job.id: job.next_run_time for job in scheduler.get_jobs()}


T0 = datetime(2026, 11, 27, 22, 30, tzinfo=UTC)


def test_reconcile_adds_new_jobs_with_deterministic_ids(scheduler):
    wanted = [runner.DueJob("1:1:a", T0, 1), runner.DueJob("1:2:a", T0 + timedelta(minutes=1), 2)]
    assert runner.reconcile(scheduler, wanted, _noop) == {"added": 2, "replaced": 0, "removed": 0}
    # Each job starts CUE_AHEAD_S before its airing, to have it cued on the second.
    ahead = timedelta(seconds=runner.CUE_AHEAD_S)
    assert jobs_of(scheduler) == {"1:1:a": T0 - ahead, "1:2:a": T0 + timedelta(minutes=1) - ahead}
    job = scheduler.get_job("1:1:a")
    assert job.args == (1,) and job.coalesce is True and job.misfire_grace_time is None
    assert str(job.next_run_time.tzinfo) == "Asia/Ho_Chi_Minh"
    # Same input again: nothing to do.
    assert runner.reconcile(scheduler, wanted, _noop) == {"added": 0, "replaced": 0, "removed": 0}


def test_reconcile_replaces_a_job_whose_time_changed(scheduler):
    runner.reconcile(scheduler, [runner.DueJob("k", T0, 1)], _noop)
    later = T0 + timedelta(seconds=45)
    counts = runner.reconcile(scheduler, [runner.DueJob("k", later, 1)], _noop)
    assert counts == {"added": 0, "replaced": 1, "removed": 0}
    assert jobs_of(scheduler) == {"k": later - timedelta(seconds=runner.CUE_AHEAD_S)}


def test_reconcile_leaves_an_airing_whose_job_is_running(scheduler):
    """A job that fired and has not claimed its airing yet is not added again (APScheduler
    would log a skipped second run)."""
    wanted = [runner.DueJob("1:1:a", T0, 1), runner.DueJob("1:2:a", T0, 2)]
    counts = runner.reconcile(scheduler, wanted, _noop, running={"1:1:a"})
    assert counts == {"added": 1, "replaced": 0, "removed": 0}
    assert set(jobs_of(scheduler)) == {"1:2:a"}
    assert runner.add_missing(scheduler, wanted, _noop, running={"1:1:a"}) == 0


def test_running_jobs_are_tracked_from_submission_to_the_end_of_their_run():
    """track_running() follows the scheduler's events (a real scheduler, no clock: the job
    is started by hand through the executor's events)."""
    from apscheduler.events import (
        EVENT_JOB_EXECUTED,
        EVENT_JOB_SUBMITTED,
        JobExecutionEvent,
        JobSubmissionEvent,
    )

    sched = runner.make_scheduler()
    running = runner.track_running(sched)
    sched._dispatch_event(JobSubmissionEvent(EVENT_JOB_SUBMITTED, "1:1:a", None, [T0]))
    assert running == {"1:1:a"}
    sched._dispatch_event(JobExecutionEvent(EVENT_JOB_EXECUTED, "1:1:a", None, T0))
    assert running == set()


def test_a_job_that_fires_late_still_runs_and_air_decides_by_the_station():
    """The scheduler drops no late job (a real scheduler on the real clock): a station whose
    grace is longer than the runner's default must still air late, not be logged missed."""
    sched = runner.make_scheduler()
    ran = threading.Event()
    late = datetime.now(UTC) - timedelta(seconds=runner.GRACE_S + 100)
    sched.add_job(ran.set, trigger="date", run_date=late, id="1:1:late")
    sched.start()
    try:
        assert ran.wait(10)
        # A date job is removed once it has run; shutting down before that races the removal.
        pause = threading.Event()
        for _ in range(1000):  # at most 10 s
            if sched.get_job("1:1:late") is None:
                break
            pause.wait(0.01)
    finally:
        sched.shutdown(wait=True)


def test_reconcile_removes_dropped_jobs_and_leaves_others(scheduler):
    scheduler.add_job(_noop, "interval", seconds=5, id="heartbeat", args=(0,))
    runner.reconcile(scheduler, [runner.DueJob("a", T0, 1), runner.DueJob("b", T0, 2)], _noop)
    counts = runner.reconcile(scheduler, [runner.DueJob("b", T0, 2)], _noop)
    assert counts == {"added": 0, "replaced": 0, "removed": 1}
    assert set(jobs_of(scheduler)) == {"b", "heartbeat"}


def test_a_job_started_ahead_waits_for_its_second_and_airs_on_time(spots, clock):
    """The scheduler starts a job CUE_AHEAD_S early: the airing is claimed and cued, then
    plays when it is due (on the injected clock), logged on time."""
    airing = spots[0]
    due = airing.sequenced_at
    clock.current = due - timedelta(seconds=runner.CUE_AHEAD_S)
    row = runner.air(
        airing.id, output=get_output("simulate", {}, clock=clock), clock=clock, host="h"
    )
    assert row.status == LogStatus.AIRED and row.reason == ""
    assert row.started_at == due
    assert db.session.get(Airing, airing.id).status == AiringStatus.AIRED


def test_a_claimed_airing_not_due_yet_shows_as_cued_in_the_rundown(spots, clock, users):
    airing = spots[0]
    due = airing.sequenced_at
    clock.current = due - timedelta(seconds=runner.CUE_AHEAD_S)
    assert runner.claim_airing(airing.id, "h", clock.now()) is not None
    station = db.session.get(Station, airing.station_id)
    day = due.astimezone(LOCAL_TZ).date()

    def label() -> str:
        rows = service.rundown(users["operator"], station, day)
        return next(r.status_label for r in rows if r.airing_id == airing.id)

    assert label() == "sắp phát"
    clock.current = due
    assert label() == "đang phát"


def test_a_runner_stopping_before_the_second_leaves_the_airing_planned(spots, clock):
    airing = spots[0]
    clock.current = airing.sequenced_at - timedelta(seconds=runner.CUE_AHEAD_S)
    stop = threading.Event()
    stop.set()
    assert runner.air(airing.id, clock=clock, host="h", stop=stop) is None
    db.session.expire_all()
    again = db.session.get(Airing, airing.id)
    assert (again.status, again.claimed_by) == (AiringStatus.PLANNED, None)
    assert log_rows() == []


def test_due_jobs_come_from_planned_airings_keyed_by_airing_key(spots, clock):
    jobs = runner.due_jobs(clock.now() - timedelta(minutes=1), timedelta(hours=1))
    assert [(j.job_id, j.run_at, j.airing_id) for j in jobs] == [
        (a.airing_key, a.sequenced_at, a.id) for a in sorted(spots, key=lambda a: a.id)
    ]
    runner.air(spots[0].id, output=simulate(clock), clock=clock, host=HOST)
    assert [j.job_id for j in runner.due_jobs(clock.now(), timedelta(hours=1))] == [
        spots[1].airing_key
    ]
    assert runner.due_jobs(clock.now() + timedelta(minutes=6), timedelta(hours=1)) == []


# --- the lock -------------------------------------------------------------------------------


def test_first_runner_takes_the_lock_second_stands_by(app, clock):
    now = clock.now()
    assert runner.acquire_lock("a", now) is True
    assert runner.acquire_lock("b", now + timedelta(seconds=5)) is False
    # The holder renews it; the standby still waits.
    assert runner.heartbeat("a", now + timedelta(seconds=20)) is True
    assert runner.acquire_lock("b", now + timedelta(seconds=45)) is False
    assert runner.acquire_lock("a", now + timedelta(seconds=46)) is True


def test_standby_takes_over_a_stale_lock_and_the_old_holder_notices(app, clock):
    now = clock.now()
    assert runner.acquire_lock("a", now)
    assert runner.acquire_lock("b", now + timedelta(seconds=31), stale_s=30) is True
    assert runner.heartbeat("a", now + timedelta(seconds=32)) is False
    assert runner.heartbeat("b", now + timedelta(seconds=32)) is True


def test_released_lock_is_free_at_once(app, clock):
    now = clock.now()
    assert runner.acquire_lock("a", now)
    runner.release_lock("a")
    assert runner.acquire_lock("b", now + timedelta(seconds=1)) is True
    assert runner.heartbeat("a", now + timedelta(seconds=1)) is False


# --- the command ----------------------------------------------------------------------------


def test_scheduler_run_once_airs_what_is_due(app, spots, clock):
    clock.advance(seconds=30)
    result = app.test_cli_runner().invoke(args=["scheduler", "run", "--once", "--host", "cron"])

    assert result.exit_code == 0, result.output
    assert "Đã ghi nhật ký 2 lượt phát" in result.output
    rows = log_rows()
    assert [r.status for r in rows] == [LogStatus.AIRED_LATE, LogStatus.AIRED_LATE]
    assert {r.runner_host for r in rows} == {"cron"}
    assert rows[0].reason == "phát muộn 30 giây"
    # A second run finds nothing left to air.
    again = app.test_cli_runner().invoke(args=["scheduler", "run", "--once"])
    assert again.exit_code == 0 and len(log_rows()) == 2


def test_scheduler_run_once_logs_misses_after_downtime(app, spots, clock):
    clock.advance(hours=2)
    result = app.test_cli_runner().invoke(args=["scheduler", "run", "--once"])
    assert result.exit_code == 0, result.output
    assert {r.reason for r in log_rows()} == {"bỏ lỡ: bộ phát không chạy"}
    assert db.session.scalar(select(func.count()).select_from(BroadcastLog)) == 2


# --- the loop, on the real clock ------------------------------------------------------------


def test_two_running_runners_air_each_spot_once_and_one_holds_the_lock(app, spots):
    """Two run_forever loops (threads, real APScheduler, real clock, simulate output)."""
    from app.core.clock import SystemClock
    from app.playout.lock import RunnerLock
    from app.schedules.models import Schedule, ScheduleStatus

    # Out of refresh's reach, so the loop's daily refresh leaves these airings alone.
    schedule = db.session.get(Schedule, spots[0].schedule_id)
    schedule.status = ScheduleStatus.DELETED
    soon = SystemClock().now() + timedelta(seconds=0.5)
    for airing in spots:
        db.session.get(Airing, airing.id).sequenced_at = soon
    db.session.commit()
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=runner.run_forever,
            args=(app, host, SystemClock()),
            kwargs={"poll_s": 0.1, "stop": stop},
        )
        for host in ("runner-a", "runner-b")
    ]
    for t in threads:
        t.start()
    try:
        # Up to 30 s for both rows: a loaded machine (CI, other tests in parallel) can be slow
        # to start the threads; on an idle one this takes about a second.
        for _ in range(600):
            db.session.expire_all()
            if db.session.scalar(select(func.count()).select_from(BroadcastLog)) >= 2:
                break
            threading.Event().wait(0.05)
        threading.Event().wait(0.3)  # give a duplicate, if any, the time to show up
        db.session.expire_all()
        rows = log_rows()
        holder = db.session.get(RunnerLock, runner.LOCK_NAME).holder
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
    assert sorted(r.airing_key for r in rows) == sorted(a.airing_key for a in spots)
    # On time, or late when the machine was too busy to start them within the second.
    assert all(r.status in (LogStatus.AIRED, LogStatus.AIRED_LATE) for r in rows)
    assert {r.runner_host for r in rows} == {holder}


class SteppedClock(FixedClock):
    """A test clock stepped forward by `step` the first time a wait advances it (NTP)."""

    def __init__(self, start: datetime, step: timedelta) -> None:
        super().__init__(start)
        self.step = step

    def advance(self, **kwargs: float) -> None:
        """Advance, plus the step once."""
        super().advance(**kwargs)
        self.current += self.step
        self.step = timedelta(0)


def test_a_clock_stepped_past_the_grace_while_a_job_waits_for_its_second_logs_it_missed(spots):
    airing = spots[0]
    due = airing.sequenced_at
    clock = SteppedClock(due - timedelta(seconds=runner.CUE_AHEAD_S), timedelta(minutes=10))

    row = runner.air(airing.id, output=simulate(clock), clock=clock, host="h")

    assert row.status == LogStatus.MISSED and row.started_at is None
    assert row.reason.startswith("bỏ lỡ: trễ 9 phút")


def test_a_log_row_the_database_refuses_is_kept_and_written_by_the_next_sweep(spots, clock):
    from sqlalchemy import event

    airing = spots[0]
    clock.current = airing.sequenced_at
    refused = []

    def full_disk(cursor, statement, parameters, context):
        if statement.startswith("INSERT INTO broadcast_log") and not refused:
            refused.append(statement)
            # The database driver's own error (SQLite's or psycopg's), as a full disk gives.
            raise db.engine.dialect.dbapi.OperationalError("database or disk is full")

    event.listen(db.engine, "do_execute", full_disk)
    try:
        assert runner.air(airing.id, output=simulate(clock), clock=clock, host="h") is None
        assert refused and log_rows() == []
        assert status_of(airing) == AiringStatus.CLAIMED
        later = clock.now() + timedelta(minutes=10)  # stale claim: written, not logged interrupted
        swept = runner.sweep_missed(later, "other")  # the other station's spot, missed
    finally:
        event.remove(db.engine, "do_execute", full_disk)

    assert [r.airing_key for r in swept] == [spots[1].airing_key]
    [row] = [r for r in log_rows() if r.airing_key == airing.airing_key]
    assert row.status == LogStatus.AIRED and row.started_at == airing.sequenced_at
    assert status_of(airing) == AiringStatus.AIRED and not runner.DEFAULT_STAGE.unwritten
