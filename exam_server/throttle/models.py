"""Counters of failed logins, one row per (scope, key)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from exam_server.schema import Base, UTCDateTime


class LoginThrottle(Base):
    """Failures of one kind of login for one key, inside a window.

    ``scope``: ``ticket`` (wrong ID numbers for a ticket), ``terminal`` (wrong ID numbers
    from one terminal), ``console_user`` (a user name at one source address),
    ``console_source`` (one source address, any names), ``enrol_source`` (wrong
    enrolment codes from one address)."""

    __tablename__ = "login_throttle"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(160))
    failures: Mapped[int] = mapped_column(default=0)
    first_failure_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: console and enrolment scopes: no attempt is judged before this (a growing wait)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: candidate scopes: locked past the limit, until an invigilator unlocks
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the room whose invigilator sees the alert (candidate scopes)
    room_id: Mapped[int | None] = mapped_column(ForeignKey("room.id"), index=True)
    #: what the console shows: the seat or the candidate concerned
    label: Mapped[str] = mapped_column(String(100), default="")
