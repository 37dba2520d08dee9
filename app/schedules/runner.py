"""The playout runner: claim each airing once, play it, log what happened, one runner active.

Everything here is a plain function on the database and an injected clock, so tests drive it
without threads. run_forever() is the thin loop around them: it holds the runner lock, moves
the airing horizon on daily, logs airings nobody played, and keeps one APScheduler date job
per due airing (id = airing_key) whose function only calls air() inside an app context.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from app.broadcast.models import BroadcastLog, LogStatus
from app.broadcast.service import LogEntry, append_log
from app.core.clock import LOCAL_TZ, Clock
from app.extensions import db
from app.org.models import Station
from app.schedules import service
from app.schedules.lock import RunnerLock
from app.schedules.models import Airing, AiringStatus
from app.schedules.outputs import Output, OutputError, get_output, sleeper_for
from app.speech.models import Render
from app.speech.service import audio_dir, verify_audio

log = logging.getLogger(__name__)

GRACE_S = 300.0  # how late an airing may still start; later it is logged as missed
LATE_AFTER_S = 1.0  # starting later than this is logged as aired_late
RETRIES = 2  # extra attempts for a retryable output error, while still within the grace
RETRY_WAIT_S = 5.0
LOCK_NAME = "playout"
STALE_S = 30.0  # a holder whose heartbeat is older than this is taken for dead
JOB_NAME = "air"  # marks the scheduler jobs reconcile() owns
REASON_RUNNER_DOWN = "bỏ lỡ: bộ phát không chạy"
REASON_CRASHED = "bị ngắt: bộ phát dừng giữa chừng, không biết đã phát đến đâu"


def default_host() -> str:
    """This runner's name in claims, the lock and the log: host name and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def format_span(seconds: float) -> str:
    """A duration in Vietnamese words: "7 phút 3 giây", "1 giờ 5 phút", "0 giây"."""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if hours:
        parts.append(f"{hours} giờ")
    if minutes:
        parts.append(f"{minutes} phút")
    if secs or not parts:
        parts.append(f"{secs} giây")
    return " ".join(parts)


# --- claiming and airing ------------------------------------------------------------------------


def claim_airing(airing_id: int, host: str, now: datetime | None = None) -> Airing | None:
    """Move a planned airing to claimed for host and commit; None if it was not planned.

    A conditional UPDATE, so of two runners (or two firings of one job) exactly one wins.
    """
    now = now or datetime.now(LOCAL_TZ)
    result = db.session.execute(
        update(Airing)
        .where(Airing.id == airing_id, Airing.status == AiringStatus.PLANNED)
        .values(status=AiringStatus.CLAIMED, claimed_by=host[:120], claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if result.rowcount != 1:
        return None
    airing = db.session.get(Airing, airing_id)
    db.session.refresh(airing)
    return airing


def output_for(station: Station, clock: Clock) -> Output:
    """The station's output: PLAYOUT_STATIONS[code], else PLAYOUT_OUTPUT with PLAYOUT_SETTINGS.

    PLAYOUT_STATIONS maps a station code to {"output": name, "settings": {...}}; the defaults
    are "simulate" and {}.
    """
    config = current_app.config
    own: Mapping[str, Any] = (config.get("PLAYOUT_STATIONS") or {}).get(station.code) or {}
    name = own.get("output") or config.get("PLAYOUT_OUTPUT") or "simulate"
    settings = own.get("settings", config.get("PLAYOUT_SETTINGS") or {})
    return get_output(name, settings, clock=clock, config=config)


def _entry(airing: Airing, render: Render | None, host: str, **fields: Any) -> LogEntry:
    """A log entry carrying everything the airing says about itself."""
    return LogEntry(
        station_id=airing.station_id,
        planned_at=airing.sequenced_at,
        script_id=airing.script_id,
        version_id=airing.version_id,
        render_id=airing.render_id,
        spoken_sha256=render.spoken_sha256 if render else "",
        audio_sha256=render.audio_sha256 if render else "",
        schedule_id=airing.schedule_id,
        airing_key=airing.airing_key,
        priority=airing.priority,
        runner_host=host,
        **fields,
    )


def _finish(airing_id: int, entry: LogEntry) -> BroadcastLog:
    """Write the log row, then move the airing to the same status.

    The row goes first: append_log commits on its own and rolls back on a lost race, so
    nothing may be pending. A crash between the two leaves a claimed airing with its row,
    which sweep_missed() recognises.
    """
    row = append_log(entry)
    db.session.execute(
        update(Airing)
        .where(Airing.id == airing_id)
        .values(status=AiringStatus(entry.status.value))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return row


def _audio_problem(render: Render | None) -> str:
    """Why the approved audio cannot air, or "" when the file on disk is the approved one."""
    if render is None or not render.audio_path:
        return "lỗi: bản tin không có âm thanh đã duyệt"
    path = audio_dir() / render.audio_path
    if not path.is_file():
        return f"lỗi: tệp âm thanh không còn trên máy ({path.name}); hãy tạo lại âm thanh"
    if not verify_audio(render):
        return "lỗi: tệp âm thanh đã bị thay đổi, không khớp mã sha256 đã duyệt"
    return ""


def air(
    airing_id: int,
    *,
    output: Output | None = None,
    clock: Clock,
    host: str,
    grace_s: float = GRACE_S,
    retries: int = RETRIES,
    retry_wait_s: float = RETRY_WAIT_S,
    stop: threading.Event | None = None,
) -> BroadcastLog | None:
    """Claim and play one airing and write its one log row; None if another runner has it.

    output None means the station's configured output (output_for).
    """
    now = clock.now()
    airing = claim_airing(airing_id, host, now)
    if airing is None:
        return None
    render = db.session.get(Render, airing.render_id)
    late_s = (now - airing.sequenced_at).total_seconds()
    if late_s > grace_s:
        reason = f"bỏ lỡ: trễ {format_span(late_s)}, quá thời gian cho phép {format_span(grace_s)}"
        entry = _entry(airing, render, host, status=LogStatus.MISSED, reason=reason)
        return _finish(airing_id, entry)
    late_note = f"phát muộn {format_span(late_s)}" if late_s > LATE_AFTER_S else ""
    problem = _audio_problem(render)
    if problem:
        entry = _entry(airing, render, host, status=LogStatus.FAILED, reason=problem)
        return _finish(airing_id, entry)
    path = audio_dir() / render.audio_path
    meta = {
        "station_id": airing.station_id,
        "planned_at": airing.sequenced_at,
        "script_id": airing.script_id,
        "version_id": airing.version_id,
        "airing_key": airing.airing_key,
    }
    attempt = 0
    while True:
        started = clock.now()
        try:
            player = output or output_for(db.session.get(Station, airing.station_id), clock)
            result = player.play(path, airing.duration_s, stop=stop, meta=meta)
            break
        except OutputError as exc:
            within = (clock.now() - airing.sequenced_at).total_seconds() + retry_wait_s <= grace_s
            if exc.retryable and attempt < retries and within and exc.played_seconds == 0:
                attempt += 1
                log.warning("air %s: retry %d after %s", airing.airing_key, attempt, exc.message)
                sleeper_for(clock).wait(retry_wait_s, stop)
                continue
            status = LogStatus.PARTIAL if exc.played_seconds > 0 else LogStatus.FAILED
            tries = f" (sau {attempt + 1} lần thử)" if attempt else ""
            entry = _entry(
                airing,
                render,
                host,
                status=status,
                reason=f"lỗi: {exc.message}{tries}",
                started_at=started,
                ended_at=max(started, clock.now()),
                duration_s=exc.played_seconds,
            )
            return _finish(airing_id, entry)
    if not result.completed:
        status = LogStatus.INTERRUPTED
        reason = f"bị ngắt sau {format_span(result.played_seconds)}"
        if result.detail:
            reason += f" ({result.detail})"
    elif late_note:
        status, reason = LogStatus.AIRED_LATE, late_note
    else:
        status, reason = LogStatus.AIRED, ""
    if late_note and status != LogStatus.AIRED_LATE:
        reason = f"{late_note}; {reason}"
    entry = _entry(
        airing,
        render,
        host,
        status=status,
        reason=reason,
        started_at=result.started_at,
        ended_at=result.ended_at,
        duration_s=result.played_seconds,
    )
    return _finish(airing_id, entry)


def sweep_missed(now: datetime, host: str, grace_s: float = GRACE_S) -> list[BroadcastLog]:
    """Log what no runner played: planned airings past their grace, and abandoned claims.

    A planned airing whose start plus grace has passed is claimed and logged missed ("bộ phát
    không chạy"). A claimed airing whose runner died while playing (claim older than its
    duration plus grace) is logged interrupted, unless its row was written before the crash,
    in which case only its status is brought in line.
    """
    rows = []
    cutoff = now - timedelta(seconds=grace_s)
    planned = db.session.scalars(
        select(Airing.id)
        .where(Airing.status == AiringStatus.PLANNED, Airing.sequenced_at < cutoff)
        .order_by(Airing.sequenced_at, Airing.id)
    ).all()
    for airing_id in planned:
        airing = claim_airing(airing_id, host, now)
        if airing is None:
            continue
        render = db.session.get(Render, airing.render_id)
        entry = _entry(airing, render, host, status=LogStatus.MISSED, reason=REASON_RUNNER_DOWN)
        rows.append(_finish(airing_id, entry))
    claimed = db.session.scalars(
        select(Airing).where(Airing.status == AiringStatus.CLAIMED, Airing.claimed_at < cutoff)
    ).all()
    for airing in claimed:
        if airing.claimed_at + timedelta(seconds=airing.duration_s + grace_s) > now:
            continue
        row = rows_for(airing.airing_key)
        if row is not None:
            airing.status = AiringStatus(row.status.value)
            db.session.commit()
            continue
        # Take the abandoned claim over with the same conditional UPDATE, so two sweeping
        # runners write one row.
        taken = db.session.execute(
            update(Airing)
            .where(
                Airing.id == airing.id,
                Airing.status == AiringStatus.CLAIMED,
                Airing.claimed_by == airing.claimed_by,
            )
            .values(status=AiringStatus.INTERRUPTED, claimed_by=host[:120], claimed_at=now)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        if taken.rowcount != 1:
            continue
        render = db.session.get(Render, airing.render_id)
        entry = _entry(airing, render, host, status=LogStatus.INTERRUPTED, reason=REASON_CRASHED)
        rows.append(append_log(entry))
    return rows


def rows_for(airing_key: str) -> BroadcastLog | None:
    """The first log row written for an airing, if any."""
    return db.session.scalar(
        select(BroadcastLog)
        .where(BroadcastLog.airing_key == airing_key)
        .order_by(BroadcastLog.id)
        .limit(1)
    )


def air_due(now: datetime, *, clock: Clock, host: str, grace_s: float = GRACE_S) -> list:
    """Air every planned airing whose time has come (within the grace), earliest first."""
    ids = db.session.scalars(
        select(Airing.id)
        .where(
            Airing.status == AiringStatus.PLANNED,
            Airing.sequenced_at <= now,
            Airing.sequenced_at >= now - timedelta(seconds=grace_s),
        )
        .order_by(Airing.sequenced_at, Airing.id)
    ).all()
    rows = []
    for airing_id in ids:
        try:
            row = air(airing_id, clock=clock, host=host, grace_s=grace_s)
        except Exception:
            # One airing's bug must not stop the others; it stays claimed for the sweep.
            log.exception("air %s failed", airing_id)
            db.session.rollback()
            continue
        if row is not None:
            rows.append(row)
    return rows


def run_once(clock: Clock, host: str, grace_s: float = GRACE_S) -> dict:
    """One cycle for cron and tests: refresh airings, log misses, air what is due now."""
    now = clock.now()
    totals = service.refresh_all_airings(now)
    missed = sweep_missed(now, host, grace_s)
    aired = air_due(clock.now(), clock=clock, host=host, grace_s=grace_s)
    return {**totals, "missed": len(missed), "logged": len(aired)}


# --- the scheduler's jobs -----------------------------------------------------------------------


@dataclass(frozen=True)
class DueJob:
    """One scheduler job: its deterministic id, when it runs, and the airing it airs."""

    job_id: str
    run_at: datetime
    airing_id: int


def due_jobs(now: datetime, horizon: timedelta, grace_s: float = GRACE_S) -> list[DueJob]:
    """Jobs for the planned airings from now - grace to now + horizon, by time."""
    airings = db.session.execute(
        select(Airing.airing_key, Airing.sequenced_at, Airing.id)
        .where(
            Airing.status == AiringStatus.PLANNED,
            Airing.sequenced_at >= now - timedelta(seconds=grace_s),
            Airing.sequenced_at < now + horizon,
        )
        .order_by(Airing.sequenced_at, Airing.id)
    ).all()
    return [DueJob(key, when, airing_id) for key, when, airing_id in airings]


def _run_date(job) -> datetime | None:
    """The run date of a date-trigger job (works before the scheduler starts, too)."""
    return getattr(job.trigger, "run_date", None)


def reconcile(scheduler, wanted: Iterable[DueJob], func: Callable[[int], Any]) -> dict:
    """Make the scheduler's air jobs match wanted: add new, replace changed, remove dropped.

    Only jobs named JOB_NAME are touched, so the scheduler may hold others.
    """
    wanted = {job.job_id: job for job in wanted}
    existing = {job.id: job for job in scheduler.get_jobs() if job.name == JOB_NAME}
    counts = {"added": 0, "replaced": 0, "removed": 0}
    for job_id in existing:
        if job_id not in wanted:
            scheduler.remove_job(job_id)
            counts["removed"] += 1
    for job_id, job in wanted.items():
        current = existing.get(job_id)
        if current is not None:
            same = _run_date(current) == job.run_at and current.args == (job.airing_id,)
            if same:
                continue
            scheduler.remove_job(job_id)
            counts["replaced"] += 1
        else:
            counts["added"] += 1
        scheduler.add_job(
            func,
            trigger="date",
            run_date=job.run_at.astimezone(LOCAL_TZ),
            id=job_id,
            name=JOB_NAME,
            args=(job.airing_id,),
        )
    return counts


def make_scheduler(grace_s: float = GRACE_S, blocking: bool = False):
    """An APScheduler 3 scheduler in Vietnam's time zone, coalescing, with the grace as misfire."""
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler

    cls = BlockingScheduler if blocking else BackgroundScheduler
    return cls(
        timezone=LOCAL_TZ,
        # One thread per station playing at once; 20 covers a district.
        executors={"default": ThreadPoolExecutor(20)},
        job_defaults={"coalesce": True, "misfire_grace_time": int(grace_s), "max_instances": 1},
    )


# --- the single active runner ------------------------------------------------------------------


def acquire_lock(host: str, now: datetime, stale_s: float = STALE_S, name: str = LOCK_NAME) -> bool:
    """Take the runner lock if it is free, ours, or its holder's heartbeat is stale; commit."""
    try:
        db.session.execute(insert(RunnerLock).values(name=name, holder=host, heartbeat_at=now))
        db.session.commit()
        return True
    except IntegrityError:
        db.session.rollback()
    result = db.session.execute(
        update(RunnerLock)
        .where(
            RunnerLock.name == name,
            (RunnerLock.holder == host)
            | RunnerLock.holder.is_(None)
            | (RunnerLock.heartbeat_at < now - timedelta(seconds=stale_s)),
        )
        .values(holder=host, heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def heartbeat(host: str, now: datetime, name: str = LOCK_NAME) -> bool:
    """Renew our hold on the lock; False when another runner has taken it over."""
    result = db.session.execute(
        update(RunnerLock)
        .where(RunnerLock.name == name, RunnerLock.holder == host)
        .values(heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def release_lock(host: str, name: str = LOCK_NAME) -> None:
    """Give the lock up (on a clean shutdown) so a standby need not wait for it to go stale."""
    db.session.execute(
        update(RunnerLock)
        .where(RunnerLock.name == name, RunnerLock.holder == host)
        .values(holder=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def make_job(app: Flask, *, clock: Clock, host: str, grace_s: float) -> Callable[[int], Any]:
    """The scheduler's job function: air one airing inside an app context."""

    def job(airing_id: int) -> None:
        with app.app_context():
            air(airing_id, clock=clock, host=host, grace_s=grace_s)

    return job


def run_forever(
    app: Flask,
    host: str,
    clock: Clock,
    *,
    grace_s: float = GRACE_S,
    poll_s: float = 5.0,
    stale_s: float = STALE_S,
    horizon: timedelta = timedelta(hours=1),
    stop: threading.Event | None = None,
) -> None:
    """Hold the lock (or wait as standby) and keep the jobs in line with the airings until stop.

    Every poll: heartbeat (or try the lock), refresh the airing horizon once per local day,
    log misses, reconcile jobs. Reconciling every poll is cheap (one indexed query) and
    picks up any change to schedules within poll_s.
    """
    stop = stop or threading.Event()
    scheduler = make_scheduler(grace_s)
    scheduler.start(paused=True)
    job = make_job(app, clock=clock, host=host, grace_s=grace_s)
    active = False
    refreshed_on = None
    try:
        while not stop.is_set():
            now = clock.now()
            with app.app_context():
                try:
                    if active and not heartbeat(host, now):
                        log.warning("runner %s lost the lock; standing by", host)
                        active = False
                        scheduler.pause()
                        reconcile(scheduler, [], job)
                    elif not active and acquire_lock(host, now, stale_s):
                        log.info("runner %s is active", host)
                        active = True
                        scheduler.resume()
                    if active:
                        today = now.astimezone(LOCAL_TZ).date()
                        if refreshed_on != today:
                            service.refresh_all_airings(now)
                            refreshed_on = today
                        sweep_missed(now, host, grace_s)
                        reconcile(scheduler, due_jobs(now, horizon, grace_s), job)
                except Exception:
                    # The database may be briefly away; try again next poll.
                    log.exception("runner cycle failed")
                    db.session.rollback()
            stop.wait(poll_s)
    finally:
        scheduler.shutdown(wait=True)
        with app.app_context():
            if active:
                release_lock(host)
