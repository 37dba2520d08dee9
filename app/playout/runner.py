"""The playout runner: claim each airing once, play it, log what happened, one runner active.

Everything here is a plain function on the database and an injected clock, so tests drive it
without threads. run_forever() is the thin loop around them: it holds the runner lock, moves
the airing horizon on daily, logs airings nobody played, and keeps one APScheduler date job
per due airing (id = airing_key) whose function only calls air() inside an app context.

An airing goes planned -> claimed (a Claim: host and time) -> started (started_at, committed
just before the output plays) -> its final status, written with its one log row. Every write
after the claim is conditional on the claim, so a runner whose claim was taken over (it died,
or stalled) neither starts nor logs it. A claim left before the start goes back to planned
and can still air; one left after it is logged interrupted (sweep_missed()).

Which stations a runner airs depends on its host (aired_here()): the central runner airs the
stations in central playout mode, a station agent (PLAYOUT_HOST = "agent") the one station its
own database holds. The claim checks it in its conditional UPDATE, so a switch of mode
committed before a claim always wins.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from sqlalchemy import ColumnElement, func, insert, select, true, update
from sqlalchemy.exc import IntegrityError, OperationalError

from app.agents.service import stations_aired_centrally
from app.broadcast.models import BroadcastLog, LogStatus
from app.broadcast.service import LogEntry, append_log
from app.core.clock import LOCAL_TZ, Clock
from app.extensions import db
from app.org.models import Station
from app.playout.lock import RunnerLock
from app.playout.outputs import Output, OutputError, get_output, sleeper_for
from app.schedules import service
from app.schedules.models import Airing, AiringStatus
from app.scripts.models import Priority, ScriptVersion
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
REASON_STOPPED_BEFORE_START = (
    "bỏ lỡ: bộ phát dừng sau khi nhận lượt phát, trước khi phát; đã quá thời gian cho phép"
)
CAUSE_SHUTDOWN = "bộ phát được tắt"
REQUEUE_GAP_S = 5.0  # silence between an emergency spot and the spot it cut off, aired again
EMERGENCY_TICK_S = 0.5  # how often the runner looks for "phát ngay" airings between polls
# Jobs start this long before their airing is due: the claim, the checks and the cue are done
# by then, and the play starts on the second (bench/runner.py: 50 stations due at once).
CUE_AHEAD_S = 2.0
# A claim whose output has not started this long after it was due (or claimed, if later) is
# taken for abandoned by a dead runner, as a lock holder is after STALE_S without a heartbeat.
# Only runners that did not make the claim sweep it; should its runner still be alive, it
# cannot start it any more (mark_started() is fenced on the claim), so nothing airs twice.
ABANDONED_S = STALE_S
MAX_PLAYING = 500  # airings one runner can play at once (a thread each, started on demand)
# While waiting for an airing's second, the runner reads its clock at least this often, so a
# clock stepped meanwhile (NTP) neither airs it early nor airs it past its grace.
CLOCK_CHECK_S = 0.25


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


# --- what each station is playing ---------------------------------------------------------------


@dataclass
class Play:
    """One airing on air: the event that stops its output, and why it was stopped."""

    airing_id: int
    priority: Priority
    stop: threading.Event
    cause: str = ""
    # For an emergency interruption: how long the emergency spot lasts, so the cut-off spot
    # is queued again after it.
    resume_after_s: float = 0.0


@dataclass
class Stage:
    """Per runner process: one airing at a time per station, and who is on air.

    A station's lock is held while its output plays. An emergency spot first stops the
    station's current play (Play.stop), then takes the lock as soon as that play returns;
    any other spot waits for the lock within its grace.
    """

    guard: threading.Lock = field(default_factory=threading.Lock)
    locks: dict[int, threading.Lock] = field(default_factory=dict)
    playing: dict[int, Play] = field(default_factory=dict)
    # Airings this runner has claimed and not finished, so its own sweep leaves them alone.
    held: set[int] = field(default_factory=set)
    # Plays whose log row the database refused (a full disk, a lost connection), by airing id:
    # the row as it would have been and the claim, written by the next sweep (write_unwritten).
    unwritten: dict[int, tuple[LogEntry, Claim]] = field(default_factory=dict)

    def hold(self, airing_id: int) -> None:
        """Note a claimed airing as this runner's until release()."""
        with self.guard:
            self.held.add(airing_id)

    def release(self, airing_id: int) -> None:
        """The airing is finished (its row is written)."""
        with self.guard:
            self.held.discard(airing_id)

    def holds(self, airing_id: int) -> bool:
        """Whether this runner is still on the airing (playing it, or keeping its row)."""
        with self.guard:
            return airing_id in self.held or airing_id in self.unwritten

    def keep(self, airing_id: int, entry: LogEntry, claim: Claim) -> None:
        """Keep the row of a play the database refused, to write it later."""
        with self.guard:
            self.unwritten[airing_id] = (entry, claim)

    def kept(self) -> list[tuple[int, LogEntry, Claim]]:
        """The rows kept, oldest play first."""
        with self.guard:
            items = [(aid, entry, claim) for aid, (entry, claim) in self.unwritten.items()]
        return sorted(items, key=lambda item: (item[1].planned_at, item[0]))

    def written(self, airing_id: int) -> None:
        """A kept row is written (or its claim was lost): forget it."""
        with self.guard:
            self.unwritten.pop(airing_id, None)

    def _lock(self, station_id: int) -> threading.Lock:
        with self.guard:
            return self.locks.setdefault(station_id, threading.Lock())

    def enter(self, station_id: int, play: Play, wait_s: float) -> bool:
        """Take the station for play, waiting up to wait_s seconds; False on timeout."""
        if not self._lock(station_id).acquire(timeout=max(wait_s, 0.0)):
            return False
        with self.guard:
            self.playing[station_id] = play
        return True

    def leave(self, station_id: int, play: Play) -> None:
        """Give the station back after play."""
        with self.guard:
            if self.playing.get(station_id) is play:
                del self.playing[station_id]
        self._lock(station_id).release()

    def interrupt(self, station_id: int, cause: str, resume_after_s: float = 0.0) -> Play | None:
        """Stop what the station plays (unless it is an emergency too); return that play."""
        with self.guard:
            play = self.playing.get(station_id)
            if play is None or play.priority == Priority.EMERGENCY or play.stop.is_set():
                return None
            play.cause = cause
            play.resume_after_s = resume_after_s
            play.stop.set()
            return play

    def stop_all(self, cause: str) -> None:
        """Stop every play (the runner is shutting down)."""
        with self.guard:
            for play in self.playing.values():
                if not play.stop.is_set():
                    play.cause = play.cause or cause
                    play.stop.set()


# Used when air() is called without a stage (the command line's --once, tests).
DEFAULT_STAGE = Stage()


def station_grace(station: Station, default_s: float) -> float:
    """The station's own grace, or the runner's."""
    return float(station.grace_s) if station.grace_s is not None else default_s


def widest_grace(default_s: float) -> float:
    """The longest grace of any station: how far back the runner must look for due airings."""
    widest = db.session.scalar(select(func.max(Station.grace_s)))
    return max(default_s, float(widest or 0.0))


def _station_graces(default_s: float) -> dict[int, float]:
    """Every station's grace by id (its own, or default_s)."""
    rows = db.session.execute(select(Station.id, Station.grace_s)).all()
    return {sid: float(g) if g is not None else default_s for sid, g in rows}


def requeue(airing: Airing, at: datetime) -> Airing:
    """A new planned airing of the same audio at `at`, pointing at the one cut off; commit."""
    base = airing.airing_key.split("~", 1)[0]
    again = Airing(
        schedule_id=airing.schedule_id,
        station_id=airing.station_id,
        planned_at=airing.planned_at,
        sequenced_at=at.astimezone(UTC).replace(microsecond=0),
        session_name=airing.session_name,
        duration_s=airing.duration_s,
        priority=airing.priority,
        script_id=airing.script_id,
        version_id=airing.version_id,
        render_id=airing.render_id,
        airing_key=f"{base}~r{at.astimezone(UTC):%Y%m%dT%H%M%S}"[:120],
        status=AiringStatus.PLANNED,
        operator_id=airing.operator_id,
        note=airing.note,
        requeued_from_id=airing.id,
        created_at=at,
    )
    db.session.add(again)
    db.session.commit()
    return again


# --- claiming and airing ------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """Who holds a claimed airing and since when: the token its later writes are fenced on.

    Every takeover (the sweep's, or a claim after the airing went back to planned) changes it,
    so a runner that lost its claim, dead or only stalled, can neither start nor log it.
    """

    host: str
    at: datetime

    @classmethod
    def of(cls, airing: Airing) -> Claim:
        """The claim as stored on a claimed airing."""
        return cls(airing.claimed_by, airing.claimed_at)

    def holds(self, airing_id: int):
        """The WHERE clause: the airing is still claimed under this token."""
        return (
            (Airing.id == airing_id)
            & (Airing.status == AiringStatus.CLAIMED)
            & (Airing.claimed_by == self.host)
            & (Airing.claimed_at == self.at)
        )


AGENT_HOST = "agent"  # PLAYOUT_HOST of a station agent (app/station_agent)


def aired_here() -> ColumnElement[bool]:
    """The airings this host airs, as a WHERE clause.

    The central runner airs the stations in central playout mode that no agent is still
    handing back (stations_aired_centrally()), never an agent's; a station agent airs every
    airing its database holds (its own station's plan).
    """
    if current_app.config.get("PLAYOUT_HOST") == AGENT_HOST:
        return true()
    return Airing.station_id.in_(stations_aired_centrally())


def plans_here() -> bool:
    """Whether this host makes the airings from the schedules: the server does; an agent's
    come from its server's plan."""
    return current_app.config.get("PLAYOUT_HOST") != AGENT_HOST


def claim_airing(airing_id: int, host: str, now: datetime | None = None) -> Airing | None:
    """Move a planned airing to claimed for host and commit; None if it was not planned, or
    its station is not aired here (aired_here()).

    A conditional UPDATE, so of two runners (or two firings of one job) exactly one wins, and
    a station switched to its agent before the claim is never aired centrally.
    """
    now = now or datetime.now(LOCAL_TZ)
    result = db.session.execute(
        update(Airing)
        .where(Airing.id == airing_id, Airing.status == AiringStatus.PLANNED, aired_here())
        .values(status=AiringStatus.CLAIMED, claimed_by=host[:120], claimed_at=now, started_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if result.rowcount != 1:
        return None
    airing = db.session.get(Airing, airing_id)
    db.session.refresh(airing)
    return airing


def mark_started(airing_id: int, claim: Claim, now: datetime) -> bool:
    """Record that the output starts now, and commit; False if the claim is no longer ours.

    Called just before the output plays, never after: a crash between the two leaves an
    airing logged interrupted that did not play, never one that played and airs again.
    """
    result = db.session.execute(
        update(Airing)
        .where(claim.holds(airing_id), Airing.started_at.is_(None))
        .values(started_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def _unclaim(airing_id: int, claim: Claim) -> bool:
    """Put a claimed airing that has not started back to planned, and commit; False if the
    claim was no longer this one or the airing had started."""
    result = db.session.execute(
        update(Airing)
        .where(claim.holds(airing_id), Airing.started_at.is_(None))
        .values(status=AiringStatus.PLANNED, claimed_by=None, claimed_at=None, started_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


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


def log_entry(airing: Airing, render: Render | None, host: str, **fields: Any) -> LogEntry:
    """A log entry carrying everything the airing says about itself.

    A manual airing's row names the operator who asked for it; a note given with "phát ngay"
    goes before the reason.
    """
    fields.setdefault("operator_id", airing.operator_id)
    if airing.note and fields.get("reason") is not None and airing.operator_id is not None:
        fields["reason"] = "; ".join(p for p in (f"ghi chú: {airing.note}", fields["reason"]) if p)
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


class LostClaim(Exception):
    """The airing is no longer claimed under the claim a runner is finishing it with."""


def finish(
    airing_id: int,
    entry: LogEntry,
    after: Callable[[BroadcastLog], None] | None = None,
    *,
    claim: Claim | None = None,
) -> BroadcastLog | None:
    """Write the log row (with whatever `after` adds) and move the airing to its status, in
    one transaction; None, and nothing written, if the claim was lost.

    With a claim the status moves only while the airing is still claimed under it, so a
    runner whose claim was taken over writes no second row. (Rows written by earlier
    versions, whose status moved in a second commit, are recognised by sweep_missed().)
    """

    def move(row: BroadcastLog) -> None:
        result = db.session.execute(
            update(Airing)
            .where(claim.holds(airing_id) if claim is not None else Airing.id == airing_id)
            .values(status=AiringStatus(entry.status.value))
            .execution_options(synchronize_session=False)
        )
        if claim is not None and result.rowcount != 1:
            raise LostClaim(entry.airing_key)
        if after is not None:
            after(row)

    try:
        # A claim is this runner's own: one made before its station was switched to its agent
        # is finished here (the agent starts airing only once none is left, see
        # app.agents.service.handover_state()), so the refusal to write into an agent's chain
        # does not apply to it.
        return append_log(entry, move, own_claim=claim is not None)
    except LostClaim:
        db.session.rollback()
        log.warning("%s: claim of %s lost; not logged by it", entry.airing_key, claim.host)
        return None


@dataclass(frozen=True)
class Cue:
    """What playing one airing needs, read before the database connection is given back."""

    airing_id: int
    airing_key: str
    claim: Claim
    station_id: int
    planned_at: datetime
    duration_s: float
    path: Path
    meta: dict
    output: Output

    @classmethod
    def of(
        cls, airing: Airing, render: Render, station: Station, output: Output | None, clock: Clock
    ) -> Cue:
        """The cue of a claimed airing whose audio is in place; output None means the
        station's own (output_for)."""
        return cls(
            airing_id=airing.id,
            airing_key=airing.airing_key,
            claim=Claim.of(airing),
            station_id=airing.station_id,
            planned_at=airing.sequenced_at,
            duration_s=airing.duration_s,
            path=audio_dir() / render.audio_path,
            meta=airing_meta(airing, station),
            output=output or output_for(station, clock),
        )


def airing_meta(airing: Airing, station: Station) -> dict[str, Any]:
    """The airing's fields an output may use, under the names outputs document.

    station is the station's code, planned the sequenced time (UTC), script the script id,
    version the approved version's number; the ids are there too for outputs that want them.
    """
    number = db.session.scalar(
        select(ScriptVersion.number).where(ScriptVersion.id == airing.version_id)
    )
    return {
        "station": station.code,
        "planned": airing.sequenced_at,
        "script": airing.script_id,
        "version": number,
        "station_id": airing.station_id,
        "version_id": airing.version_id,
        "airing_key": airing.airing_key,
    }


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
    stage: Stage | None = None,
) -> BroadcastLog | None:
    """Claim and play one airing and write its one log row; None if another runner has it.

    output None means the station's configured output (output_for). The station's policy
    applies: its grace (else grace_s), skipping instead of airing late, and what happens to a
    spot an emergency cuts off (aired again after it, or dropped).
    """
    stage = stage or DEFAULT_STAGE
    now = clock.now()
    airing = claim_airing(airing_id, host, now)
    if airing is None:
        return None
    stage.hold(airing_id)
    try:
        play = Play(airing.id, airing.priority, stop or threading.Event())
        return _air_claimed(
            airing, now, play, output, clock, host, grace_s, retries, retry_wait_s, stage
        )
    finally:
        stage.release(airing_id)


def _air_claimed(
    airing: Airing,
    now: datetime,
    play: Play,
    output: Output | None,
    clock: Clock,
    host: str,
    grace_s: float,
    retries: int,
    retry_wait_s: float,
    stage: Stage,
) -> BroadcastLog | None:
    """air() once the airing is ours: the station's policy, waiting for its second and for
    the station, playing. None when the runner stopped before it was due."""
    airing_id = airing.id
    claim = Claim.of(airing)
    render = db.session.get(Render, airing.render_id)
    station = db.session.get(Station, airing.station_id)
    grace = station_grace(station, grace_s)
    late_s = (now - airing.sequenced_at).total_seconds()
    if late_s > grace:
        reason = f"bỏ lỡ: trễ {format_span(late_s)}, quá thời gian cho phép {format_span(grace)}"
        entry = log_entry(airing, render, host, status=LogStatus.MISSED, reason=reason)
        return finish(airing_id, entry, claim=claim)
    manual = airing.operator_id is not None
    if late_s > LATE_AFTER_S and station.misfire_policy == "skip" and not manual:
        reason = f"bỏ qua: trễ {format_span(late_s)}, đài chọn không phát muộn"
        entry = log_entry(airing, render, host, status=LogStatus.SKIPPED, reason=reason)
        return finish(airing_id, entry, claim=claim)
    problem = _audio_problem(render)
    if problem:
        entry = log_entry(airing, render, host, status=LogStatus.FAILED, reason=problem)
        return finish(airing_id, entry, claim=claim)
    cause = ""
    if airing.priority == Priority.EMERGENCY:
        cause = f"nhường chỗ cho tin khẩn cấp “{airing.script.title}”"
    skips_late = station.misfire_policy == "skip" and not manual
    cue = Cue.of(airing, render, station, output, clock)
    # Give the connection back to the pool before waiting for the station and playing, so a
    # province's stations playing at once do not each hold one. Nothing below may read the
    # database (not even an attribute of the now expired ORM objects, which would start a
    # transaction and hold a connection through the play) until the play is over: the cue
    # holds what it needs.
    db.session.commit()
    # The job started CUE_AHEAD_S early: wait for the second the airing is due.
    if not _wait_until(cue.planned_at, clock, play.stop):
        _unclaim(airing_id, claim)  # the runner is stopping: leave it for the next one
        return None
    # The clock may have been stepped forward while waiting: the station's policy again.
    late_s = (clock.now() - cue.planned_at).total_seconds()
    if late_s > grace:
        reason = f"bỏ lỡ: trễ {format_span(late_s)}, quá thời gian cho phép {format_span(grace)}"
        entry = log_entry(airing, render, host, status=LogStatus.MISSED, reason=reason)
        return finish(airing_id, entry, claim=claim)
    if late_s > LATE_AFTER_S and skips_late:
        reason = f"bỏ qua: trễ {format_span(late_s)}, đài chọn không phát muộn"
        entry = log_entry(airing, render, host, status=LogStatus.SKIPPED, reason=reason)
        return finish(airing_id, entry, claim=claim)
    if cause:
        stage.interrupt(cue.station_id, cause, cue.duration_s)
    if not stage.enter(cue.station_id, play, grace - late_s):
        reason = f"bỏ lỡ: đài đang phát tin khác quá thời gian cho phép {format_span(grace)}"
        entry = log_entry(airing, render, host, status=LogStatus.MISSED, reason=reason)
        return finish(airing_id, entry, claim=claim)
    try:
        return _play(
            airing, render, station, play, cue, clock, host, grace, retries, retry_wait_s, stage
        )
    finally:
        stage.leave(cue.station_id, play)


def _wait_until(when: datetime, clock: Clock, stop: threading.Event) -> bool:
    """Wait until the clock reads when, reading it again at least every CLOCK_CHECK_S (a
    controllable clock is advanced instead); False if stop was set while waiting."""
    sleeper = sleeper_for(clock)
    while (left_s := (when - clock.now()).total_seconds()) > 0:
        if not sleeper.wait(min(left_s, CLOCK_CHECK_S), stop):
            return False
    return True


def _play(
    airing: Airing,
    render: Render,
    station: Station,
    play: Play,
    cue: Cue,
    clock: Clock,
    host: str,
    grace_s: float,
    retries: int,
    retry_wait_s: float,
    stage: Stage,
) -> BroadcastLog | None:
    """Play a claimed airing on the station's output (with retries) and log the outcome;
    None, without playing, if its claim was taken over meanwhile (or its row is kept for later,
    _finish_played).

    The start is committed before the output plays (mark_started). Apart from that, until
    the play is over only the cue is read, so no database connection is held.
    """
    if not mark_started(cue.airing_id, cue.claim, clock.now()):
        log.warning("air %s: claim of %s taken over; not played", cue.airing_key, host)
        return None
    late_s = (clock.now() - cue.planned_at).total_seconds()
    late_note = f"phát muộn {format_span(late_s)}" if late_s > LATE_AFTER_S else ""
    attempt = 0
    while True:
        started = clock.now()
        try:
            result = cue.output.play(cue.path, cue.duration_s, stop=play.stop, meta=cue.meta)
            break
        except OutputError as exc:
            within = (clock.now() - cue.planned_at).total_seconds() + retry_wait_s <= grace_s
            if exc.retryable and attempt < retries and within and exc.played_seconds == 0:
                attempt += 1
                log.warning("air %s: retry %d after %s", cue.airing_key, attempt, exc.message)
                sleeper_for(clock).wait(retry_wait_s, play.stop)
                continue
            status = LogStatus.PARTIAL if exc.played_seconds > 0 else LogStatus.FAILED
            tries = f" (sau {attempt + 1} lần thử)" if attempt else ""
            entry = log_entry(
                airing,
                render,
                host,
                status=status,
                reason=f"lỗi: {exc.message}{tries}",
                started_at=started,
                ended_at=max(started, clock.now()),
                duration_s=exc.played_seconds,
            )
            return _finish_played(cue, entry, stage)
    if not result.completed:
        status = LogStatus.INTERRUPTED
        reason = f"bị ngắt sau {format_span(result.played_seconds)}"
        details = [d for d in (play.cause, result.detail) if d]
        if details:
            reason += f" ({'; '.join(details)})"
        if play.resume_after_s or (play.cause and play.cause != CAUSE_SHUTDOWN):
            reason += "; " + _after_interruption(airing, station, clock, play)
    elif late_note:
        status, reason = LogStatus.AIRED_LATE, late_note
    else:
        status, reason = LogStatus.AIRED, ""
    if late_note and status != LogStatus.AIRED_LATE:
        reason = f"{late_note}; {reason}"
    entry = log_entry(
        airing,
        render,
        host,
        status=status,
        reason=reason,
        started_at=result.started_at,
        ended_at=result.ended_at,
        duration_s=result.played_seconds,
    )
    return _finish_played(cue, entry, stage)


def _finish_played(cue: Cue, entry: LogEntry, stage: Stage) -> BroadcastLog | None:
    """finish() for a play that happened. Should the database refuse the row (a full disk,
    a lost connection), only this runner knows how the play went: the row is kept on the stage
    and the airing stays claimed (and held, so no sweep logs it interrupted) until the next
    sweep writes it (write_unwritten); never aired again, since it has started."""
    try:
        return finish(cue.airing_id, entry, claim=cue.claim)
    except OperationalError as exc:
        db.session.rollback()
        log.error("%s: log row not written (%s); kept to write later", cue.airing_key, exc.orig)
        stage.keep(cue.airing_id, entry, cue.claim)
        return None


def write_unwritten(stage: Stage) -> list[BroadcastLog]:
    """Write the rows the database refused after their plays (_finish_played), oldest first;
    stop at the first refused again (tried at the next sweep)."""
    rows = []
    for airing_id, entry, claim in stage.kept():
        try:
            row = finish(airing_id, entry, claim=claim)
        except OperationalError as exc:
            db.session.rollback()
            log.warning("%s: log row still not written (%s)", entry.airing_key, exc.orig)
            break
        stage.written(airing_id)
        if row is not None:
            log.info("%s: log row written late", entry.airing_key)
            rows.append(row)
    return rows


def _after_interruption(airing: Airing, station: Station, clock: Clock, play: Play) -> str:
    """Queue a spot an emergency cut off again, or drop it, by the station's policy."""
    if station.interrupt_policy != "requeue" or airing.priority == Priority.EMERGENCY:
        return "không phát lại (theo chính sách của đài)"
    at = clock.now() + timedelta(seconds=play.resume_after_s + REQUEUE_GAP_S)
    again = requeue(airing, at)
    return f"phát lại lúc {again.sequenced_at.astimezone(LOCAL_TZ):%H:%M:%S}"


def sweep_missed(
    now: datetime, host: str, grace_s: float = GRACE_S, stage: Stage | None = None
) -> list[BroadcastLog]:
    """Log what no runner played: planned airings past their grace, and abandoned claims.

    A planned airing whose start plus grace has passed is claimed and logged missed ("bộ phát
    không chạy"). A claim another runner left is dealt with by whether its output started:

    - never started (ABANDONED_S past its time, or its claim if later): nothing played, so
      the airing goes back to planned and airs late within its station's policy (the skip
      policy logs it skipped); past its grace it is logged missed ("dừng … trước khi phát");
    - started, and older than its duration plus grace: logged interrupted, as no one knows
      how much of it reached the loudspeakers;

    unless its row was written before the crash, in which case only its status is brought in
    line. Every step is conditional on the claim as read (Claim), so of two runners sweeping,
    or a sweep and a claimant that was only stalled, one wins.

    First, the rows of plays the database refused are written (write_unwritten()); the
    airings whose rows are still kept are left alone.
    """
    keeping = stage or DEFAULT_STAGE
    write_unwritten(keeping)
    rows = []
    graces = _station_graces(grace_s)
    cutoff = now - timedelta(seconds=min(graces.values(), default=grace_s))
    planned = db.session.execute(
        select(Airing.id, Airing.station_id, Airing.sequenced_at)
        .where(Airing.status == AiringStatus.PLANNED, Airing.sequenced_at < cutoff, aired_here())
        .order_by(Airing.sequenced_at, Airing.id)
    ).all()
    for airing_id, station_id, sequenced_at in planned:
        if sequenced_at >= now - timedelta(seconds=graces.get(station_id, grace_s)):
            continue
        airing = claim_airing(airing_id, host, now)
        if airing is None:
            continue
        render = db.session.get(Render, airing.render_id)
        entry = log_entry(airing, render, host, status=LogStatus.MISSED, reason=REASON_RUNNER_DOWN)
        row = finish(airing_id, entry, claim=Claim.of(airing))
        if row is not None:
            rows.append(row)
    claimed_before = now - timedelta(seconds=min(ABANDONED_S, *graces.values(), grace_s))
    # populate_existing: decide on the claims as stored now, not as the session last saw them.
    claimed = db.session.scalars(
        select(Airing)
        .where(Airing.status == AiringStatus.CLAIMED, Airing.claimed_at < claimed_before)
        .order_by(Airing.sequenced_at, Airing.id)
        .execution_options(populate_existing=True)
    ).all()
    for airing in claimed:
        if (stage is not None and stage.holds(airing.id)) or airing.id in keeping.unwritten:
            continue  # this runner is still on it (waiting, playing, or keeping its row)
        claim, started_at = Claim.of(airing), airing.started_at
        own = graces.get(airing.station_id, grace_s)
        if started_at is None:
            due = max(claim.at, airing.sequenced_at)
            if due + timedelta(seconds=ABANDONED_S) > now:
                continue  # its runner may still start it
        elif started_at + timedelta(seconds=airing.duration_s + own) > now:
            continue  # it may still be playing
        row = rows_for(airing.airing_key)
        if row is not None:
            airing.status = AiringStatus(row.status.value)
            db.session.commit()
            continue
        late_s = (now - airing.sequenced_at).total_seconds()
        if started_at is None and late_s <= own:
            if _unclaim(airing.id, claim):
                log.warning(
                    "%s: claimed by %s, never started; planned again, %s late",
                    airing.airing_key,
                    claim.host,
                    format_span(late_s),
                )
            continue
        # Take the abandoned claim over with the same conditional UPDATE, so two sweeping
        # runners write one row. It stays claimed until its row is written (finish() is
        # fenced on the new claim): a crash in between leaves a fresh claim that a later
        # sweep picks up again.
        taken_at = Claim(host[:120], now)
        still = claim.holds(airing.id)
        if started_at is None:
            still &= Airing.started_at.is_(None)
        taken = db.session.execute(
            update(Airing)
            .where(still)
            .values(claimed_by=taken_at.host, claimed_at=taken_at.at)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        if taken.rowcount != 1:
            continue
        render = db.session.get(Render, airing.render_id)
        if started_at is None:
            status, reason = LogStatus.MISSED, REASON_STOPPED_BEFORE_START
        else:
            status, reason = LogStatus.INTERRUPTED, REASON_CRASHED
        entry = log_entry(airing, render, host, status=status, reason=reason)
        row = finish(airing.id, entry, claim=taken_at)
        if row is not None:
            rows.append(row)
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
    window = widest_grace(grace_s)
    ids = db.session.scalars(
        select(Airing.id)
        .where(
            Airing.status == AiringStatus.PLANNED,
            Airing.sequenced_at <= now,
            Airing.sequenced_at >= now - timedelta(seconds=window),
            aired_here(),
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
    totals = service.refresh_all_airings(now) if plans_here() else {}
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

    @property
    def fire_at(self) -> datetime:
        """When the scheduler starts the job: CUE_AHEAD_S before the airing is due."""
        return self.run_at - timedelta(seconds=CUE_AHEAD_S)


def due_jobs(now: datetime, horizon: timedelta, grace_s: float = GRACE_S) -> list[DueJob]:
    """Jobs for the planned airings from now - grace to now + horizon, by time.

    The grace is the widest of any station's; air() applies each station's own.
    """
    window = widest_grace(grace_s)
    airings = db.session.execute(
        select(Airing.airing_key, Airing.sequenced_at, Airing.id)
        .where(
            Airing.status == AiringStatus.PLANNED,
            Airing.sequenced_at >= now - timedelta(seconds=window),
            Airing.sequenced_at < now + horizon,
            aired_here(),
        )
        .order_by(Airing.sequenced_at, Airing.id)
    ).all()
    return [DueJob(key, when, airing_id) for key, when, airing_id in airings]


def _run_date(job) -> datetime | None:
    """The run date of a date-trigger job (works before the scheduler starts, too)."""
    return getattr(job.trigger, "run_date", None)


def reconcile(
    scheduler,
    wanted: Iterable[DueJob],
    func: Callable[[int], Any],
    running: set[str] | None = None,
) -> dict:
    """Make the scheduler's air jobs match wanted: add new, replace changed, remove dropped.

    Only jobs named JOB_NAME are touched, so the scheduler may hold others. A job in running
    (track_running(): fired, not finished; its airing may not be claimed yet) is left alone:
    added again, APScheduler would only log that it skipped a second run.
    """
    running = running if running is not None else set()
    wanted = {job.job_id: job for job in wanted if job.job_id not in running}
    existing = {job.id: job for job in scheduler.get_jobs() if job.name == JOB_NAME}
    counts = {"added": 0, "replaced": 0, "removed": 0}
    for job_id in existing:
        if job_id not in wanted:
            scheduler.remove_job(job_id)
            counts["removed"] += 1
    for job_id, job in wanted.items():
        current = existing.get(job_id)
        if current is not None:
            same = _run_date(current) == job.fire_at and current.args == (job.airing_id,)
            if same:
                continue
            scheduler.remove_job(job_id)
            counts["replaced"] += 1
        else:
            counts["added"] += 1
        scheduler.add_job(
            func,
            trigger="date",
            run_date=job.fire_at.astimezone(LOCAL_TZ),
            id=job_id,
            name=JOB_NAME,
            args=(job.airing_id,),
        )
    return counts


def make_scheduler(blocking: bool = False):
    """An APScheduler 3 scheduler in Vietnam's time zone, coalescing, never dropping a late job.

    A job that fires late still runs: air() decides by the airing's own station (its grace, its
    misfire policy) whether it airs late, is skipped or is logged missed. A scheduler-wide misfire
    grace would drop the jobs of a station whose grace is longer, to be logged missed later.
    """
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler

    cls = BlockingScheduler if blocking else BackgroundScheduler
    return cls(
        timezone=LOCAL_TZ,
        # One thread per station playing at once. Threads start only when needed, and a
        # playing airing holds no database connection, so a province's stations can all be
        # due in the same second (bench/runner.py).
        executors={"default": ThreadPoolExecutor(MAX_PLAYING)},
        job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
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


def make_job(
    app: Flask, *, clock: Clock, host: str, grace_s: float, stage: Stage | None = None
) -> Callable[[int], Any]:
    """The scheduler's job function: air one airing inside an app context."""

    def job(airing_id: int) -> None:
        with app.app_context():
            air(airing_id, clock=clock, host=host, grace_s=grace_s, stage=stage)

    return job


def track_running(scheduler) -> set[str]:
    """The ids of the scheduler's jobs from submission to the end of their run, kept up to
    date by listeners (from submission: a thread may take a moment to start the job)."""
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_SUBMITTED

    running: set[str] = set()
    scheduler.add_listener(lambda event: running.add(event.job_id), EVENT_JOB_SUBMITTED)
    scheduler.add_listener(
        lambda event: running.discard(event.job_id), EVENT_JOB_EXECUTED | EVENT_JOB_ERROR
    )
    return running


def due_emergencies(now: datetime) -> list[DueJob]:
    """Planned khẩn cấp airings due by now ("phát ngay"), to start without waiting for a poll."""
    airings = db.session.execute(
        select(Airing.airing_key, Airing.sequenced_at, Airing.id)
        .where(
            Airing.status == AiringStatus.PLANNED,
            Airing.priority == Priority.EMERGENCY,
            Airing.sequenced_at <= now + timedelta(seconds=EMERGENCY_TICK_S),
            aired_here(),
        )
        .order_by(Airing.sequenced_at, Airing.id)
    ).all()
    return [DueJob(key, when, airing_id) for key, when, airing_id in airings]


def add_missing(
    scheduler,
    wanted: Iterable[DueJob],
    func: Callable[[int], Any],
    running: set[str] | None = None,
) -> int:
    """Add jobs the scheduler does not have yet and is not running (leaving the others)."""
    added = 0
    running = running if running is not None else set()
    for job in wanted:
        if job.job_id not in running and scheduler.get_job(job.job_id) is None:
            scheduler.add_job(
                func,
                trigger="date",
                run_date=job.fire_at.astimezone(LOCAL_TZ),
                id=job.job_id,
                name=JOB_NAME,
                args=(job.airing_id,),
            )
            added += 1
    return added


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
    picks up any change to schedules within poll_s. Between polls, every EMERGENCY_TICK_S,
    the active runner starts "phát ngay" airings at once. On stop, what is playing is cut off
    and logged interrupted ("bộ phát được tắt").
    """
    stop = stop or threading.Event()
    scheduler = make_scheduler()
    scheduler.start(paused=True)
    stage = Stage()
    job = make_job(app, clock=clock, host=host, grace_s=grace_s, stage=stage)
    running = track_running(scheduler)
    tick_s = min(poll_s, EMERGENCY_TICK_S)
    active = False
    refreshed_on = None
    next_poll = 0.0
    try:
        while not stop.is_set():
            polling = time.monotonic() >= next_poll
            with app.app_context():
                try:
                    now = clock.now()
                    if polling:
                        next_poll = time.monotonic() + poll_s
                        active = _poll(scheduler, job, host, now, active, stale_s)
                    if active and polling:
                        today = now.astimezone(LOCAL_TZ).date()
                        if refreshed_on != today:
                            if plans_here():
                                service.refresh_all_airings(now)
                            refreshed_on = today
                        sweep_missed(now, host, grace_s, stage)
                        reconcile(scheduler, due_jobs(now, horizon, grace_s), job, running)
                    elif active:
                        add_missing(scheduler, due_emergencies(now), job, running)
                except Exception:
                    # The database may be briefly away; try again next poll.
                    log.exception("runner cycle failed")
                    db.session.rollback()
                finally:
                    db.session.remove()
            stop.wait(tick_s)
    finally:
        stage.stop_all(CAUSE_SHUTDOWN)
        scheduler.shutdown(wait=True)
        with app.app_context():
            if active:
                release_lock(host)


def _poll(scheduler, job, host: str, now: datetime, active: bool, stale_s: float) -> bool:
    """Renew or take the runner lock; pause the scheduler when it is lost. Returns active."""
    if active and not heartbeat(host, now):
        log.warning("runner %s lost the lock; standing by", host)
        scheduler.pause()
        reconcile(scheduler, [], job)
        return False
    if not active and acquire_lock(host, now, stale_s):
        log.info("runner %s is active", host)
        scheduler.resume()
        return True
    return active
