"""One station agent: its sync cycle (plan, audio, log, health) and the loop around it.

A sync is: continue the server's chain if the local log is new; send the health report with
the ETag of the plan held, in one request (answered 204 when the plan is unchanged); fetch
every audio file the plan needs that the cache lacks (resumed, verified by sha256, never
fetched twice); apply the plan in one transaction; upload the log rows the server has not
acknowledged, in batches; after a new plan, report health again (what it left held and
missing). A failed sync is tried again after a backoff that doubles up to MAX_BACKOFF_S, with
jitter so that a district's agents coming back after an outage do not all call at once.
Airing never waits on any of it: the playout core runs in its own thread on the local database.
"""

from __future__ import annotations

import logging
import random
import shutil
import threading
from dataclasses import dataclass, field
from typing import Any

from app import __version__
from app.broadcast.service import row_json
from app.core.clock import Clock, SystemClock
from app.extensions import db
from app.playout import runner
from app.playout.outputs import OutputError, get_output
from app.station_agent import local
from app.station_agent.client import BadDownload, Client, ServerError
from app.station_agent.state import Settings, StateDir

log = logging.getLogger(__name__)

DEFAULT_DAYS = 7
DEFAULT_POLL_S = 30.0
MAX_BACKOFF_S = 600.0
UPLOAD_BATCH = 500


@dataclass
class SyncResult:
    """What one sync did, for the agent's log and its status command."""

    plan_changed: bool = False
    applied: dict[str, int] = field(default_factory=dict)
    downloaded: int = 0
    uploaded: int = 0
    duplicates: int = 0
    problems: list[str] = field(default_factory=list)


class StationAgent:
    """One station's agent on its state directory."""

    def __init__(
        self,
        state: StateDir,
        *,
        clock: Clock | None = None,
        client: Client | None = None,
        days: int = DEFAULT_DAYS,
        poll_s: float = DEFAULT_POLL_S,
        host: str | None = None,
        runner_poll_s: float = 5.0,
    ) -> None:
        self.state = state
        self.settings: Settings = state.load()
        self.clock = clock or SystemClock()
        self.client = client or Client(self.settings.server, state.credential())
        self.days = days
        self.poll_s = poll_s
        self.runner_poll_s = runner_poll_s
        self.host = host or f"agent:{self.settings.station_code}:{runner.default_host()}"
        self.app = local.create_local_app(state, self.clock)
        self.wake = threading.Event()
        self.mode = ""  # the station's playout mode in the plan held ("" before the first)
        # Where a switch of mode stands (app.agents.service.handover_state()): the agent airs
        # only in mode agent with no handover pending. Not kept on disk, so the first sync after
        # a start fetches the whole plan rather than trusting the ETag.
        self.handover: str | None = None
        self._plan_fresh = False
        self.output_state: dict[str, Any] = {"name": "", "ok": None, "message": ""}
        self.failures = 0
        # Set when the server says the agent was revoked: it stops airing and syncing.
        self.revoked = ""
        self._runner: threading.Thread | None = None
        self._runner_stop = threading.Event()
        with self.app.app_context():
            self._restore_output()

    # --- one sync -----------------------------------------------------------------------------

    def sync(self) -> SyncResult:
        """One cycle; ServerError when the server could not be reached or refused."""
        result = SyncResult()
        with self.app.app_context():
            try:
                self._continue_chain()
                etag = self.settings.plan_etag if self._plan_fresh else ""
                # One request when nothing changed: the health report goes with the ETag.
                plan = self.client.sync(self.days, etag, self.health())
                if plan.document is not None:
                    result.plan_changed = True
                    complete = self._fetch_audio(plan.document, result)
                    result.applied = local.apply_plan(plan.document, self.clock.now())
                    self._use(plan.document)
                    if self.mode == "agent":
                        self._continue_chain()  # the switch may have come after the head
                    # Keep the ETag only once every file is here: until then the next sync
                    # gets the plan again and fetches what is still missing.
                    self.settings.plan_etag = plan.etag if complete else ""
                    self.state.save(self.settings)
                    self._plan_fresh = True
                if not self.airs():
                    self._airing(False)  # switched back: stop before sending the last rows
                self._upload(result)
                self._release()
                if result.plan_changed:
                    self._report_health(result)  # what the new plan left: held, missing
            except ServerError as exc:
                if exc.code == "agent_revoked":
                    self.revoked = exc.message
                raise
            finally:
                db.session.remove()
        return result

    def _continue_chain(self) -> None:
        """While the agent does not air (and once more as it starts to), take the server's
        newest row of the station as the base its own rows will continue: until the switch
        the central runner still adds rows to the chain."""
        if self._runner is not None:
            return
        if local.pending_rows(self.settings.uploaded_seq, 1):
            return  # rows of its own wait to go up: they already continue the chain
        head = self.client.log_head()
        local.continue_chain(head)
        self.settings.uploaded_seq = max(self.settings.uploaded_seq, int(head.get("seq") or 0))
        self.state.save(self.settings)

    def _fetch_audio(self, plan: dict[str, Any], result: SyncResult) -> bool:
        """Fetch what the cache lacks; True when every file the plan needs is here."""
        complete = True
        for audio in plan["audio"]:
            sha, ext = audio["sha256"], audio["format"]
            target = self.state.audio / f"{sha}.{ext}"
            if target.is_file():
                continue
            partial = self.state.partial / f"{sha}.{ext}"
            try:
                self.client.download(sha, partial, target)
                result.downloaded += 1
            except BadDownload as exc:
                log.warning("%s", exc.message)
                result.problems.append(exc.message)
                complete = False
                if exc.code == "disk_full":
                    break  # the next files would not fit either: do not fetch them to discard
        return complete

    def _use(self, plan: dict[str, Any]) -> None:
        """Take the plan's output (with this PC's own overrides) and mode."""
        self.settings_output(plan["station"]["code"], plan["playout"]["output"])
        self.mode = plan["playout"]["mode"]
        self.handover = plan["playout"].get("handover")

    def airs(self) -> bool:
        """Whether the agent airs its plan now: its station is in agent mode, and the central
        runner has logged every airing it claimed before the switch."""
        return self.mode == "agent" and not self.handover

    def _release(self) -> None:
        """Hand a station switched back to central over once the agent has stopped airing
        and the server holds every row it wrote."""
        if self.handover != "awaiting_agent" or self._runner is not None:
            return
        if local.pending_rows(self.settings.uploaded_seq, 1):
            return  # not all up yet (the chain was refused, or the link broke)
        head = db.session.scalar(db.select(db.func.max(local.BroadcastLog.seq))) or 0
        answer = self.client.release(int(head))
        log.info("station %s handed back to the server: %s", self.settings.station_code, answer)
        self.handover = None
        self._plan_fresh = False  # the plan changed with it: fetch it again

    def settings_output(self, code: str, server_output: dict[str, Any]) -> None:
        """The station's output: the server's, with what the technician set on this PC."""
        own = self.settings.output or {}
        name = own.get("output") or server_output.get("name") or "simulate"
        settings = (
            dict(server_output.get("settings") or {}) if name == server_output.get("name") else {}
        )
        settings.update(own.get("settings") or {})
        self.app.config["PLAYOUT_STATIONS"] = {code: {"output": name, "settings": settings}}

    def _restore_output(self) -> None:
        """After a restart, offline: the output and mode of the plan held."""
        station = db.session.get(local.Station, self.settings.station_id)
        if station is not None:
            self.settings_output(station.code, {})
            self.mode = station.playout_mode.value if self._airings_held() else ""

    def _airings_held(self) -> bool:
        return db.session.scalar(db.select(local.Airing.id).limit(1)) is not None

    def _upload(self, result: SyncResult) -> None:
        """Send the rows the server lacks, oldest first, in batches; after a refusal, only
        once an admin has cleared the station's chain flag (the log head says so)."""
        if self.settings.chain_refused and not self._chain_flag_cleared(result):
            return
        while True:
            rows = local.pending_rows(self.settings.uploaded_seq, UPLOAD_BATCH)
            if not rows:
                return
            try:
                answer = self.client.upload([row_json(row) for row in rows])
            except ServerError as exc:
                if exc.code == "chain_broken":
                    self.settings.chain_refused = exc.message
                    self.state.save(self.settings)
                raise
            result.uploaded += int(answer.get("accepted") or 0)
            result.duplicates += int(answer.get("duplicates") or 0)
            self.settings.uploaded_seq = max(rows[-1].seq, int(answer["head"]["seq"]))
            self.state.save(self.settings)

    def _chain_flag_cleared(self, result: SyncResult) -> bool:
        """Whether the server's chain flag is gone (GET log: chain_flag null); then the
        refusal is forgotten and the rows go up again, checked afresh."""
        if self.client.log_head().get("chain_flag") is not None:
            result.problems.append(self.settings.chain_refused)
            return False
        log.info("station %s: chain flag cleared; uploading again", self.settings.station_code)
        self.settings.chain_refused = ""
        self.state.save(self.settings)
        return True

    def health(self) -> dict[str, Any]:
        """What the agent reports: version, plan held, audio missing, output, disk, clock."""
        now = self.clock.now()
        through = local.plan_through(now)
        missing = 0
        for render in db.session.scalars(db.select(local.Render)):
            if render.audio_path and not (self.state.audio / render.audio_path).is_file():
                missing += 1
        disk = shutil.disk_usage(self.state.root)
        return {
            "agent_version": __version__,
            "plan_until": through.isoformat() if through else None,
            "audio_missing": missing,
            "output": self._check_output(),
            "disk_free_bytes": disk.free,
            "disk_total_bytes": disk.total,
            "agent_time": now.isoformat(),
        }

    def _check_output(self) -> dict[str, Any]:
        stations = self.app.config.get("PLAYOUT_STATIONS") or {}
        own = next(iter(stations.values()), {"output": "simulate", "settings": {}})
        try:
            output = get_output(own["output"], own["settings"], clock=self.clock)
            output.check()
            state = {"name": own["output"], "ok": True, "message": ""}
        except OutputError as exc:
            state = {"name": own["output"], "ok": False, "message": str(exc)}
        self.output_state = state
        return state

    def _report_health(self, result: SyncResult) -> None:
        self.client.health(self.health())

    # --- the loop -----------------------------------------------------------------------------

    def backoff_s(self) -> float:
        """Seconds to the next try after self.failures failed syncs in a row, with jitter."""
        if self.failures == 0:
            return self.poll_s
        wait = min(MAX_BACKOFF_S, self.poll_s * 2 ** min(self.failures - 1, 10))
        return random.uniform(wait / 2, wait)

    def _airing(self, on: bool) -> None:
        """Start or stop the playout core on the local database."""
        if on and self._runner is None:
            self._runner_stop = threading.Event()
            self._runner = threading.Thread(
                target=runner.run_forever,
                args=(self.app, self.host, self.clock),
                kwargs={"poll_s": self.runner_poll_s, "stop": self._runner_stop},
                name="playout",
                daemon=True,
            )
            self._runner.start()
            log.info("station %s: airing its plan", self.settings.station_code)
        elif not on and self._runner is not None:
            self._runner_stop.set()
            self._runner.join()
            self._runner = None
            log.info("station %s: aired centrally; not airing", self.settings.station_code)

    def run(self, stop: threading.Event) -> None:
        """Sync and air until stop: the plan held airs whether or not the server answers.

        With a broker (GET /api/v1/agent/broker answers), a wake message makes the next sync
        start at once; without one the agent only polls.
        """
        self._airing(self.airs())
        listener = self._listen()
        try:
            while not stop.is_set():
                try:
                    result = self.sync()
                    self.failures = 0
                    if result.plan_changed:
                        log.info("plan applied: %s", result.applied)
                except ServerError as exc:
                    self.failures += 1
                    log.warning("sync failed (%s): %s", self.failures, exc.message)
                except Exception:
                    self.failures += 1
                    log.exception("sync failed")
                if self.revoked:
                    log.error("%s", self.revoked)
                    return
                self._airing(self.airs())
                self.wake.wait(self.backoff_s())
                self.wake.clear()
        finally:
            if listener is not None:
                listener.stop()
            self._airing(False)

    def _listen(self):
        """Start listening for wake messages; None when the server has no broker (or is away)."""
        from app.station_agent.push import WakeListener, fetch_broker_settings

        settings = fetch_broker_settings(self.settings.server, self.client.credential)
        if settings is None:
            return None
        listener = WakeListener(settings, self.wake)
        listener.start()
        return listener
