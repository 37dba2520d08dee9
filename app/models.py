"""Import every model so the metadata (and Alembic) sees all tables."""

from app.agents.models import Agent, AgentHealth, EnrolmentCode
from app.audit.models import AuditEvent
from app.auth.models import ApiToken, User
from app.broadcast.models import BroadcastLog
from app.dispatches.models import Dispatch, dispatch_targets
from app.library.models import LibraryItem
from app.org.models import BroadcastSession, Station, Unit
from app.playout.lock import RunnerLock
from app.portal.models import FeedToken
from app.programmes.models import ProgrammeItem, ProgrammeVersion
from app.schedules.models import (
    Airing,
    CancelledOccurrence,
    Schedule,
    schedule_stations,
    schedule_units,
)
from app.scripts.models import Script, ScriptReview, ScriptVersion, script_targets
from app.speech.models import LexiconEntry, Render, SpokenOverride

__all__ = [
    "Agent",
    "AgentHealth",
    "Airing",
    "ApiToken",
    "AuditEvent",
    "BroadcastLog",
    "BroadcastSession",
    "CancelledOccurrence",
    "Dispatch",
    "EnrolmentCode",
    "FeedToken",
    "LexiconEntry",
    "LibraryItem",
    "ProgrammeItem",
    "ProgrammeVersion",
    "Render",
    "RunnerLock",
    "Schedule",
    "Script",
    "ScriptReview",
    "ScriptVersion",
    "SpokenOverride",
    "Station",
    "Unit",
    "User",
    "dispatch_targets",
    "schedule_stations",
    "schedule_units",
    "script_targets",
]
