"""An attempt's timing as the engine takes it: the sitting's times, extra time and the pauses that cover its room."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from exam_server.plans.models import Pause
from exam_server.sittings.engine import Interval, Timing
from exam_server.sittings.models import Attempt
from exam_server.sittings.service.answers import pauses_by_scope


def pauses_for(session: Session, sitting_id: int, room_id: int) -> tuple[Interval, ...]:
    rows = session.scalars(
        select(Pause).where(
            Pause.sitting_id == sitting_id, or_(Pause.room_id.is_(None), Pause.room_id == room_id)
        )
    ).all()
    return tuple(Interval(p.started_at, p.ended_at) for p in rows)


def timing_of(session: Session, attempt: Attempt) -> Timing:
    sitting = attempt.sitting
    return Timing(
        start=sitting.start,
        end=sitting.end,
        extra_time=attempt.extra_time,
        pauses=pauses_for(session, sitting.id, attempt.seat.room_id),
    )


def timings_for(session: Session, attempts: Iterable[Attempt]) -> dict[int, Timing]:
    """Timings of many attempts with one query for their pauses (the sweep, the start)."""
    attempts = list(attempts)
    pauses = pauses_by_scope(session, {a.sitting_id for a in attempts})
    return {
        a.id: Timing(
            start=a.sitting.start,
            end=a.sitting.end,
            extra_time=a.extra_time,
            pauses=pauses.get((a.sitting_id, None), ())
            + pauses.get((a.sitting_id, a.seat.room_id), ()),
        )
        for a in attempts
    }
