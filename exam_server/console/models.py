"""What the console records beside the attempts: check-ins and terminals' lost time."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from exam_server.schema import Base, UTCDateTime


class CheckIn(Base):
    """签到: the invigilator compared the candidate with the registered photo."""

    __tablename__ = "check_in"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id"), unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: the invigilator's user name
    by: Mapped[str] = mapped_column(String(64))
    #: the person matched the registered photo
    photo_matches: Mapped[bool]
    #: what the invigilator noted (required when the photo does not match)
    note: Mapped[str] = mapped_column(String(500), default="")


class GapStatus(str, enum.Enum):
    OPEN = "open"  #: the terminal is out of contact now
    PROPOSED = "proposed"  #: closed; its lost answering time waits for the invigilator
    CREDITED = "credited"  #: the invigilator granted extra time for it
    DISMISSED = "dismissed"  #: the invigilator decided no time was lost
    IGNORED = "ignored"  #: too short, or outside the answering window: nothing to credit


class TerminalGap(Base):
    """A stretch of time a candidate's terminal was out of contact while the attempt was
    open: from the disconnect to the candidate's next login (same or another terminal).

    Persisted as it opens, so a server restart in between does not forget it.
    """

    __tablename__ = "terminal_gap"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id"), index=True)
    seat_label: Mapped[str] = mapped_column(String(32), default="")
    terminal_id: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[GapStatus] = mapped_column(
        Enum(
            GapStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]
        ),
        default=GapStatus.OPEN,
    )
    #: answering time lost inside the gap (pauses and time outside the window excluded)
    lost_s: Mapped[int] = mapped_column(default=0)
    #: what the server proposes to credit: the lost time rounded up to whole minutes
    proposed_s: Mapped[int] = mapped_column(default=0)
    #: what the invigilator granted (may differ from the proposal)
    credited_s: Mapped[int] = mapped_column(default=0)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
