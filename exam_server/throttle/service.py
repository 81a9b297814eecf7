"""Counting failed logins and refusing past the limit.

Two behaviours, chosen by the policy:

* **lock** (a candidate's ticket, a terminal): past the limit every login of that key is
  refused until an invigilator, who sees the alert on the room's console, unlocks it.
  A candidate at the desk is identified in person; an unattended guess stops.
* **wait** (a console user name at a source address, a source address, enrolment codes
  from an address): past the limit the key must wait before its next try, twice as long
  after each further failure, at most ``max_wait``. Nothing locks: a user name is counted
  per source, so a guesser elsewhere on the LAN never keeps the chief out, and a name that
  does not exist is counted exactly like one that does.

Service functions take the caller's session and ``now`` and only flush.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from exam_server.throttle.models import LoginThrottle


@dataclass(frozen=True)
class Policy:
    #: failures inside ``window`` that reach the limit
    limit: int
    #: a failure older than this (since the last one) starts counting afresh
    window: timedelta
    #: lock until unlocked (True) or wait (False)
    lock: bool = False
    #: the first wait past the limit; doubles with each further failure
    wait: timedelta = timedelta(seconds=30)
    max_wait: timedelta = timedelta(minutes=15)


class Throttled(Exception):
    """Refused before the credentials are even looked at. ``until``: when the key may try
    again (waits); None for a lock (until an invigilator unlocks)."""

    def __init__(self, code: str, scope: str, *, until: datetime | None = None) -> None:
        super().__init__(code)
        self.code, self.scope, self.until = code, scope, until


def _row(session: Session, scope: str, key: str, *, lock: bool = False) -> LoginThrottle | None:
    q = select(LoginThrottle).where(LoginThrottle.scope == scope, LoginThrottle.key == key)
    if lock:
        q = q.with_for_update()
    return session.scalar(q)


def check(session: Session, now: datetime, scope: str, key: str) -> None:
    """Raise :class:`Throttled` if ``key`` is locked or must still wait."""
    row = _row(session, scope, key)
    if row is None:
        return
    if row.locked_at is not None:
        raise Throttled("login_locked", scope)
    if row.blocked_until is not None and now < row.blocked_until:
        raise Throttled("login_throttled", scope, until=row.blocked_until)


def fail(
    session: Session,
    now: datetime,
    scope: str,
    key: str,
    policy: Policy,
    *,
    room_id: int | None = None,
    label: str = "",
) -> LoginThrottle:
    """Count one failure; lock or set the wait once past the limit. Returns the row."""
    key = key[:160]
    row = _row(session, scope, key, lock=True)
    if row is None:
        row = LoginThrottle(
            scope=scope, key=key, failures=0, first_failure_at=now, last_failure_at=now
        )
        session.add(row)
    elif row.locked_at is None and now - row.last_failure_at > policy.window:
        row.failures, row.first_failure_at, row.blocked_until = 0, now, None
    row.failures += 1
    row.last_failure_at = now
    if room_id is not None:
        row.room_id = room_id
    if label:
        row.label = label[:100]
    if row.failures >= policy.limit:
        if policy.lock:
            row.locked_at = row.locked_at or now
        else:
            doublings = min(row.failures - policy.limit, 20)
            row.blocked_until = now + min(policy.wait * 2**doublings, policy.max_wait)
    session.flush()
    return row


def succeeded(session: Session, scope: str, key: str) -> None:
    """A good login forgets the failures of a key that is not locked."""
    session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.scope == scope,
            LoginThrottle.key == key[:160],
            LoginThrottle.locked_at.is_(None),
        )
    )


def clear(session: Session, scope: str, key_prefix: str) -> int:
    """Forget every row of ``scope`` whose key starts with ``key_prefix``; how many."""
    rows = session.scalars(
        select(LoginThrottle).where(
            LoginThrottle.scope == scope, LoginThrottle.key.startswith(key_prefix, autoescape=True)
        )
    ).all()
    for row in rows:
        session.delete(row)
    session.flush()
    return len(rows)


def locks_in_room(session: Session, room_id: int) -> list[LoginThrottle]:
    """The locked keys an invigilator of ``room_id`` sees and may unlock."""
    return list(
        session.scalars(
            select(LoginThrottle)
            .where(LoginThrottle.room_id == room_id, LoginThrottle.locked_at.is_not(None))
            .order_by(LoginThrottle.locked_at)
        )
    )
