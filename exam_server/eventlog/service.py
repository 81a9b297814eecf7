"""Appending to and verifying the hash-chained event log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from exam_common.chain import GENESIS, entry_hash
from exam_server.eventlog.models import ChainHead, Event

__all__ = ["GENESIS", "entry_hash"]


def append(
    session: Session,
    *,
    at: datetime,
    actor: str,
    kind: str,
    data: dict[str, Any] | None = None,
    reason: str = "",
    sitting_id: int | None = None,
    room_id: int | None = None,
    attempt_id: int | None = None,
) -> Event:
    """Append one entry in the caller's transaction (flushes; the caller commits)."""
    return append_many(
        session,
        [
            Entry(
                at=at,
                actor=actor,
                kind=kind,
                data=data,
                reason=reason,
                sitting_id=sitting_id,
                room_id=room_id,
                attempt_id=attempt_id,
            )
        ],
    )[0]


@dataclass(frozen=True)
class Entry:
    """One entry to append (see :func:`append_many`)."""

    at: datetime
    actor: str
    kind: str
    data: dict[str, Any] | None = None
    reason: str = ""
    sitting_id: int | None = None
    room_id: int | None = None
    attempt_id: int | None = None


def append_many(session: Session, entries: list[Entry]) -> list[Event]:
    """Append entries in order, chained as if appended one by one, with one lock of the
    chain head and one flush (the end of a sitting logs one entry per attempt)."""
    if not entries:
        return []
    head = session.execute(select(ChainHead).where(ChainHead.id == 1).with_for_update()).scalar()
    if head is None:
        head = ChainHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
    seq, prev = head.seq, head.hash
    events = []
    for e in entries:
        # JSON round trip so the stored data hashes the same when read back.
        payload = json.loads(json.dumps(e.data or {}, ensure_ascii=False, default=str))
        seq += 1
        fields: dict[str, Any] = {
            "seq": seq,
            "at": e.at,
            "actor": e.actor,
            "kind": e.kind,
            "sitting_id": e.sitting_id,
            "room_id": e.room_id,
            "attempt_id": e.attempt_id,
            "data": payload,
            "reason": e.reason,
        }
        digest = entry_hash(prev, **fields)
        events.append(Event(**fields, prev_hash=prev, hash=digest))
        prev = digest
    session.add_all(events)
    head.seq, head.hash = seq, prev
    session.flush()
    return events


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    entries: int
    head: str
    first_broken_seq: int | None = None
    problem: str = ""


def _entries(session: Session, batch: int = 5000) -> Iterator[Event]:
    last = 0
    while True:
        rows = session.scalars(
            select(Event).where(Event.seq > last).order_by(Event.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def verify_chain(session: Session) -> ChainReport:
    """Recompute every link; name the first entry whose link or content does not hold."""
    prev = GENESIS
    count = 0
    for ev in _entries(session):
        count += 1
        if ev.seq != count:
            return ChainReport(False, count - 1, prev, count, f"entry {count} is missing")
        if ev.prev_hash != prev:
            return ChainReport(
                False, count - 1, prev, ev.seq, "its link to the previous entry is wrong"
            )
        expected = entry_hash(
            prev,
            seq=ev.seq,
            at=ev.at,
            actor=ev.actor,
            kind=ev.kind,
            sitting_id=ev.sitting_id,
            room_id=ev.room_id,
            attempt_id=ev.attempt_id,
            data=ev.data,
            reason=ev.reason,
        )
        if ev.hash != expected:
            return ChainReport(False, count - 1, prev, ev.seq, "its content was changed")
        prev = ev.hash
    head = session.get(ChainHead, 1)
    if head is not None and (head.seq != count or head.hash != prev):
        return ChainReport(False, count, prev, count + 1, "entries after the last one were removed")
    return ChainReport(True, count, prev)


@dataclass(frozen=True)
class HeadProblem:
    seq: int
    problem: str


def check_heads(session: Session, heads: list[tuple[int, str]]) -> list[HeadProblem]:
    """The local log against heads seen outside the centre (central's, or a copy kept
    apart): every head must be an entry of this log with that very hash. A head beyond
    the log's end means the log was truncated; a head whose entry hashes otherwise means
    the log was rewritten at or before it (even if every hash was recomputed)."""
    problems = []
    last = session.scalar(select(Event.seq).order_by(Event.seq.desc()).limit(1)) or 0
    for seq, digest in sorted(set(heads)):
        if seq == 0:
            continue
        if seq > last:
            problems.append(HeadProblem(seq, f"the log ends at entry {last}: it was truncated"))
            continue
        stored = session.scalar(select(Event.hash).where(Event.seq == seq))
        if stored != digest:
            problems.append(
                HeadProblem(seq, "the entry differs from the head seen: the log was rewritten")
            )
    return problems
