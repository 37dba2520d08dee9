"""Station agents (the PC beside a station's amplifier that airs its plan) and their one-time
enrolment codes."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.core.models import enum_column
from app.core.types import UTCDateTime
from app.extensions import db
from app.org.models import Station


class AgentStatus(str, Enum):
    """Whether an agent's credential still opens its station's plan."""

    ACTIVE = "active"
    REVOKED = "revoked"

    @property
    def label(self) -> str:
        """Vietnamese name of the status."""
        return AGENT_STATUS_LABELS[self]


AGENT_STATUS_LABELS = {
    AgentStatus.ACTIVE: "Đang hoạt động",
    AgentStatus.REVOKED: "Đã thu hồi",
}

# At most one active agent per station: two PCs airing one station's plan would air it twice.
_ONE_ACTIVE = text("status = 'active'")


class Agent(db.Model):
    """One station's agent; its credential is stored only as a sha256, like API tokens."""

    __tablename__ = "agents"
    __table_args__ = (
        Index(
            "uq_agents_station_active",
            "station_id",
            unique=True,
            sqlite_where=_ONE_ACTIVE,
            postgresql_where=_ONE_ACTIVE,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    status: Mapped[AgentStatus] = mapped_column(enum_column(AgentStatus))
    # Set when the agent trades its enrolment code for a credential; null before.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_prefix: Mapped[str] = mapped_column(String(20), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The last authenticated call of the agent (enrolment excluded).
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Set when a batch of log rows from the agent broke the station's chain (nothing of it was
    # merged): when, at which seq, and why. Its later batches are refused until an admin
    # clears the flag (app.agents.ingest.clear_chain_flag).
    chain_broken_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    chain_broken_seq: Mapped[int | None] = mapped_column()
    chain_broken_reason: Mapped[str | None] = mapped_column(Text)

    station: Mapped[Station] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    revoked_by: Mapped[User | None] = relationship(foreign_keys=[revoked_by_id])
    health: Mapped[AgentHealth | None] = relationship(back_populates="agent", uselist=False)

    @property
    def is_active(self) -> bool:
        """Not revoked."""
        return self.status == AgentStatus.ACTIVE

    @property
    def chain_flagged(self) -> bool:
        """Whether the station's chain is flagged broken by one of this agent's batches."""
        return self.chain_broken_at is not None

    def __repr__(self) -> str:
        return f"<Agent {self.id} {self.station_id} {self.status.value}>"


class EnrolmentCode(db.Model):
    """A one-time code an admin hands to the technician installing an agent; only its sha256
    is stored, it expires, and it is used at most once."""

    __tablename__ = "agent_enrolment_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    agent: Mapped[Agent] = relationship()


class AgentHealth(db.Model):
    """The latest health report of an agent (one row per agent, replaced by each report)."""

    __tablename__ = "agent_health"

    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), primary_key=True)
    # Server time of the report, and the agent's clock when it sent it.
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    agent_time: Mapped[datetime] = mapped_column(UTCDateTime())
    # agent_time - reported_at: positive when the agent's clock is ahead (network delay included).
    clock_offset_s: Mapped[float] = mapped_column()
    agent_version: Mapped[str] = mapped_column(String(40))
    # The start of the last planned airing the agent holds: how long it can air offline.
    plan_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    audio_missing: Mapped[int] = mapped_column()
    output_name: Mapped[str] = mapped_column(String(40))
    output_ok: Mapped[bool] = mapped_column()
    output_message: Mapped[str] = mapped_column(Text, default="")
    disk_free_bytes: Mapped[int] = mapped_column(BigInteger)
    disk_total_bytes: Mapped[int] = mapped_column(BigInteger)

    agent: Mapped[Agent] = relationship(back_populates="health")
