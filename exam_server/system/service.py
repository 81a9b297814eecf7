"""The server's heartbeat and what a restart finds: how long the server was down."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from exam_server.eventlog import service as eventlog
from exam_server.plans.models import Pause, Sitting
from exam_server.system.models import ServerState

HEARTBEAT = "heartbeat"


def beat(session: Session, now: datetime) -> None:
    """Record that the server is alive at ``now``. The heartbeat never goes back: of two
    beats committed out of order (the periodic job's and a clock jump's, on PostgreSQL in
    two transactions) the later instant stays, by a conditional update the database
    re-checks under the row's lock."""
    moved: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(ServerState)
        .where(ServerState.key == HEARTBEAT, ServerState.at < now)
        .values(at=now)
        .execution_options(synchronize_session="fetch")
    )
    if moved.rowcount == 0 and session.get(ServerState, HEARTBEAT) is None:
        session.add(ServerState(key=HEARTBEAT, value="", at=now))
    session.flush()


#: ``Pause.by`` of a pause the server credits itself for its own downtime
DOWNTIME = "server:downtime"


def record_downtime(
    session: Session, now: datetime, threshold_s: float, credit_s: float | None = None
) -> timedelta | None:
    """At startup: measure how long the server was silent (from its last heartbeat).

    Longer than ``threshold_s`` while a sitting was open: written to the log. Longer than
    ``credit_s``: also credited to everyone in those sittings as a centre pause from the
    last heartbeat to now, *before* the startup sweep runs — so a power cut never submits
    anybody at a deadline that passed while the whole centre was dark, and never shortens
    anyone's time. (A short crash changes no deadline: terminals keep working offline.)
    Returns the gap, if one was recorded.
    """
    row = session.get(ServerState, HEARTBEAT)
    last = row.at if row is not None else None
    beat(session, now)
    if last is None or (now - last).total_seconds() <= threshold_s:
        return None
    affected = list(
        session.scalars(select(Sitting.id).where(Sitting.start < now, Sitting.closed_at.is_(None)))
    )
    if not affected:
        return None
    gap = now - last
    credit = credit_s is not None and gap.total_seconds() > credit_s
    for sitting_id in affected:
        eventlog.append(
            session,
            at=now,
            actor="server",
            kind="server.downtime",
            sitting_id=sitting_id,
            data={
                "from": last.isoformat(),
                "to": now.isoformat(),
                "seconds": round(gap.total_seconds(), 1),
                "credited": credit,
            },
            reason="服务器停止运行 / the server was not running",
        )
        if credit:
            session.add(
                Pause(
                    sitting_id=sitting_id,
                    room_id=None,
                    started_at=last,
                    ended_at=now,
                    by=DOWNTIME,
                    reason="停电或服务器停机，时间已补 / downtime credited to everyone",
                )
            )
    session.flush()
    return gap
