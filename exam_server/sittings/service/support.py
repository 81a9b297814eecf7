"""Terminal support: pre-loading the paper and the terminal's status."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, undefer

from exam_server.plans.models import Paper, Sitting
from exam_server.sittings.engine import Timing
from exam_server.sittings.models import Attempt
from exam_server.sittings.service.errors import ServiceError
from exam_server.sittings.service.login import find_seat
from exam_server.sittings.service.timing import timing_of

#: how far ahead a terminal pre-loads papers (the day's sittings)
PRELOAD_AHEAD = timedelta(hours=24)


def preload_papers(
    session: Session, now: datetime, seat_label: str
) -> list[tuple[Sitting, Paper, str | None]]:
    """The encrypted papers of the candidates seated at ``seat_label`` in the sittings that
    have not ended and start within :data:`PRELOAD_AHEAD`, each with central's binding of
    it to its seat. Ciphertext only: keys never leave the server before start, and then
    only through login and ``sitting_started``."""
    seat = find_seat(session, seat_label)
    rows = session.execute(
        select(Sitting, Paper, Attempt.binding)
        .options(undefer(Paper.ciphertext))
        .join(Attempt, Attempt.sitting_id == Sitting.id)
        .join(Paper, Attempt.paper_id == Paper.id)
        .where(
            Attempt.seat_id == seat.id,
            Sitting.end > now,
            Sitting.start < now + PRELOAD_AHEAD,
            Sitting.closed_at.is_(None),
        )
        .order_by(Sitting.start, Paper.id)
    ).all()
    return list({p.id: (s, p, b) for s, p, b in rows}.values())  # one row per paper


def seat_sittings(session: Session, now: datetime, seat_label: str) -> list[Sitting]:
    """The sittings not yet ended in which someone is seated at ``seat_label`` (their
    windows are what the terminal's screen states)."""
    seat = find_seat(session, seat_label)
    return list(
        session.scalars(
            select(Sitting)
            .join(Attempt, Attempt.sitting_id == Sitting.id)
            .where(Attempt.seat_id == seat.id, Sitting.end > now, Sitting.closed_at.is_(None))
            .distinct()
            .order_by(Sitting.start)
        )
    )


def attempt_with_timing(session: Session, attempt_id: int) -> tuple[Attempt, Timing]:
    """The attempt with its sitting and seat (one query) and its timing (one more, the
    pauses): what a terminal's status asks for every 30 s and after every reconnect."""
    attempt = session.scalar(
        select(Attempt)
        .options(joinedload(Attempt.sitting), joinedload(Attempt.seat))
        .where(Attempt.id == attempt_id)
    )
    if attempt is None:
        raise ServiceError("not_your_attempt", f"no attempt {attempt_id}")
    return attempt, timing_of(session, attempt)


def candidate_photo(session: Session, attempt_id: int) -> bytes | None:
    """The registered photo of the attempt's candidate (for the terminal's confirmation)."""
    attempt = session.get(Attempt, attempt_id)
    return attempt.candidate.photo if attempt is not None else None
