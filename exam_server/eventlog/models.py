"""The append-only, hash-chained event log (logins, answers, submissions, actions, syncs)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from exam_server.schema import Base, UTCDateTime


class Event(Base):
    __tablename__ = "event_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    #: position in the chain, from 1, without gaps
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: who: a user name, "candidate:<ticket>", "terminal:<id>", "server", "sync"
    actor: Mapped[str] = mapped_column(String(100))
    #: what, e.g. "candidate.login", "answers.stored", "attempt.submitted"
    kind: Mapped[str] = mapped_column(String(64), index=True)
    sitting_id: Mapped[int | None] = mapped_column(ForeignKey("sitting.id"), index=True)
    room_id: Mapped[int | None] = mapped_column(ForeignKey("room.id"))
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempt.id"), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: why, where the rules ask for a reason (extra time, violation, pause...)
    reason: Mapped[str] = mapped_column(String(500), default="")
    #: SHA-256 (hex) of the previous entry; 64 zeros for the first
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class ChainHead(Base):
    """One row: the last entry's seq and hash. Locked while appending, so that several
    processes (PostgreSQL) never fork the chain."""

    __tablename__ = "event_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))
