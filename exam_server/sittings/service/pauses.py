"""Pauses (a room, the centre) and extra time, and the wait for a sitting's key."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from exam_server.centres.models import Seat
from exam_server.eventlog import service as eventlog
from exam_server.plans.models import Pause, Sitting
from exam_server.sittings import engine
from exam_server.sittings.engine import AttemptState
from exam_server.sittings.models import Attempt
from exam_server.sittings.service.errors import ServiceError
from exam_server.sittings.service.timing import timing_of

#: ``Pause.by`` of the pause the server opens itself when a sitting starts without its key
KEY_WAIT = "server:key"


def _wait_for_key(session: Session, sitting: Sitting) -> None:
    """No key at the start: nobody can open the paper, so the clock must not run. The
    server stops it for the whole centre from the start until the key is entered."""
    open_pause = session.scalar(
        select(Pause).where(Pause.sitting_id == sitting.id, Pause.by == KEY_WAIT)
    )
    if open_pause is None:
        start_pause(
            session,
            sitting.start,
            sitting_id=sitting.id,
            room_id=None,
            by=KEY_WAIT,
            reason="等待试卷密钥 / waiting for the paper key",
        )


def end_key_wait(session: Session, now: datetime, sitting: Sitting) -> None:
    pause = session.scalar(
        select(Pause).where(
            Pause.sitting_id == sitting.id, Pause.by == KEY_WAIT, Pause.ended_at.is_(None)
        )
    )
    if pause is not None:
        end_pause(session, now, pause.id, by=KEY_WAIT)


def start_pause(
    session: Session, now: datetime, *, sitting_id: int, room_id: int | None, reason: str, by: str
) -> Pause:
    """Stop the clock for a room (or the whole centre: ``room_id`` None)."""
    if not reason.strip():
        raise ServiceError("reason_required", "a pause needs a reason")
    open_pause = session.scalar(
        select(Pause).where(
            Pause.sitting_id == sitting_id,
            Pause.room_id.is_(room_id) if room_id is None else Pause.room_id == room_id,
            Pause.ended_at.is_(None),
        )
    )
    if open_pause is not None:
        raise ServiceError("already_paused", f"pause {open_pause.id} is still in force")
    pause = Pause(sitting_id=sitting_id, room_id=room_id, started_at=now, reason=reason, by=by)
    session.add(pause)
    for attempt in _attempts_in_scope(session, sitting_id, room_id):
        if attempt.state is AttemptState.IN_PROGRESS:
            attempt.state = engine.transition(attempt.state, AttemptState.PAUSED)
    session.flush()
    eventlog.append(
        session,
        at=now,
        actor=by,
        kind="sitting.paused",
        sitting_id=sitting_id,
        room_id=room_id,
        data={"pause_id": pause.id},
        reason=reason,
    )
    return pause


def end_pause(session: Session, now: datetime, pause_id: int, *, by: str) -> Pause:
    """Restart the clock; everyone in scope is credited the pause's length."""
    pause = session.get(Pause, pause_id, with_for_update=True)
    if pause is None or pause.ended_at is not None:
        raise ServiceError("not_paused", f"no pause {pause_id} in force")
    pause.ended_at = now
    session.flush()
    for attempt in _attempts_in_scope(session, pause.sitting_id, pause.room_id):
        if attempt.state is AttemptState.PAUSED and not engine.is_paused(
            timing_of(session, attempt), now
        ):
            attempt.state = engine.transition(attempt.state, AttemptState.IN_PROGRESS)
    session.flush()
    eventlog.append(
        session,
        at=now,
        actor=by,
        kind="sitting.resumed",
        sitting_id=pause.sitting_id,
        room_id=pause.room_id,
        data={"pause_id": pause.id, "seconds": seconds(now - pause.started_at)},
    )
    return pause


def _attempts_in_scope(session: Session, sitting_id: int, room_id: int | None) -> list[Attempt]:
    query = select(Attempt).where(Attempt.sitting_id == sitting_id)
    if room_id is not None:
        query = query.join(Seat, Attempt.seat_id == Seat.id).where(Seat.room_id == room_id)
    return list(session.scalars(query.with_for_update(of=Attempt)))


def grant_extra_time(
    session: Session, now: datetime, attempt: Attempt, extra: timedelta, *, reason: str, by: str
) -> datetime:
    """Give one candidate more time (a technical fault). Returns the new deadline."""
    if extra <= timedelta(0):
        raise ServiceError("bad_extra_time", "extra time must be positive")
    if not reason.strip():
        raise ServiceError("reason_required", "extra time needs a reason")
    if attempt.state in engine.FINAL_STATES:
        engine.transition(attempt.state, AttemptState.IN_PROGRESS)  # raises the precise reason
    attempt.extra_time_s += int(extra.total_seconds())
    session.flush()
    new_deadline = engine.deadline(timing_of(session, attempt), now)
    eventlog.append(
        session,
        at=now,
        actor=by,
        kind="attempt.extra_time",
        sitting_id=attempt.sitting_id,
        room_id=attempt.seat.room_id,
        attempt_id=attempt.id,
        reason=reason,
        data={"seconds": int(extra.total_seconds()), "deadline": new_deadline.isoformat()},
    )
    return new_deadline


def authorise_relogin(
    session: Session, now: datetime, attempt: Attempt, *, reason: str, by: str
) -> None:
    """An invigilator lets the candidate log in once more, at another terminal or a spare
    seat (the PC died). The next login uses it up; acknowledged answers and the clock
    carry over because they live on the server."""
    if not reason.strip():
        raise ServiceError("reason_required", "a seat change needs a reason")
    if attempt.state in engine.FINAL_STATES:
        engine.transition(attempt.state, AttemptState.IN_PROGRESS)  # raises the precise reason
    attempt.relogin_authorised = True
    session.flush()
    eventlog.append(
        session,
        at=now,
        actor=by,
        kind="attempt.relogin_authorised",
        sitting_id=attempt.sitting_id,
        room_id=attempt.seat.room_id,
        attempt_id=attempt.id,
        reason=reason,
    )


def seconds(delta: timedelta) -> float:
    return round(delta.total_seconds(), 3)
