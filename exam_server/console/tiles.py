"""The console's read model: seat tiles, room layouts and counts, as JSON-ready dicts.

One query shape serves the page's first snapshot and every live update (the hub asks for
just the attempts that changed), so what a reload shows and what a push shows agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from exam_server.candidates.models import Candidate
from exam_server.centres.models import Room, Seat
from exam_server.console.models import CheckIn, GapStatus, TerminalGap
from exam_server.plans.models import Paper, Pause, Sitting
from exam_server.sittings import engine
from exam_server.sittings import service as sittings
from exam_server.sittings.engine import AttemptState
from exam_server.sittings.models import Answer, Attempt

#: what a tile shows, derived from the attempt (the page colours by it)
NOT_ARRIVED, LOGGED_IN, ANSWERING, PAUSED = "not_arrived", "logged_in", "answering", "paused"
SUBMITTED, ABSENT, VOIDED = "submitted", "absent", "voided"


def display_state(state: AttemptState, logged_in: bool) -> str:
    if state is AttemptState.WAITING:
        return LOGGED_IN if logged_in else NOT_ARRIVED
    return {
        AttemptState.IN_PROGRESS: ANSWERING,
        AttemptState.PAUSED: PAUSED,
        AttemptState.SUBMITTED: SUBMITTED,
        AttemptState.ABSENT: ABSENT,
        AttemptState.VOIDED: VOIDED,
    }[state]


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


_ANSWERED = (
    select(Answer.attempt_id, func.count())
    .join(sittings.LATEST_SEQS, sittings.IS_LATEST)
    .where(Answer.response != "")
    .group_by(Answer.attempt_id)
)


def answered_counts(session: Session, attempt_ids: Iterable[int]) -> dict[int, int]:
    """Items with a (non-empty) current answer, per attempt."""
    ids = list(attempt_ids)
    if not ids:
        return {}
    return {aid: count for aid, count in session.execute(_ANSWERED, {"attempt_ids": ids})}


def tiles(
    session: Session,
    now: datetime,
    sitting_id: int,
    *,
    room_id: int | None = None,
    attempt_ids: Iterable[int] | None = None,
    answered: Callable[[list[int]], dict[int, int]] | None = None,
) -> list[dict[str, Any]]:
    """A tile per attempt of the sitting (in one room, or only the given attempts).
    ``answered``: counts the attempts' answered items (the live map's, kept from the
    saves); by default they are counted from the answer history."""
    query = (
        select(
            Attempt,
            Seat,
            Room.code.label("room_code"),
            Candidate.name,
            Candidate.ticket,
            Candidate.id_number,
            Candidate.photo.is_not(None).label("has_photo"),
            CheckIn.photo_matches,
            CheckIn.at.label("checked_in_at"),
        )
        .join(Seat, Attempt.seat_id == Seat.id)
        .join(Room, Seat.room_id == Room.id)
        .join(Candidate, Attempt.candidate_id == Candidate.id)
        .outerjoin(CheckIn, CheckIn.attempt_id == Attempt.id)
        .where(Attempt.sitting_id == sitting_id)
        .order_by(Seat.room_id, Seat.number)
    )
    if room_id is not None:
        query = query.where(Seat.room_id == room_id)
    if attempt_ids is not None:
        query = query.where(Attempt.id.in_(list(attempt_ids)))
    rows = session.execute(query).all()
    if not rows:
        return []
    sitting = session.get(Sitting, sitting_id)
    assert sitting is not None
    ids = [r.Attempt.id for r in rows]
    counts = answered(ids) if answered is not None else answered_counts(session, ids)
    items: dict[int, list[dict[str, Any]]] = {
        k: v
        for k, v in session.execute(
            select(Paper.id, Paper.items).where(Paper.sitting_id == sitting_id)
        ).tuples()
    }
    gaps: dict[int, list[dict[str, Any]]] = {}
    for gap in session.scalars(
        select(TerminalGap).where(
            TerminalGap.attempt_id.in_(ids),
            TerminalGap.status.in_([GapStatus.OPEN, GapStatus.PROPOSED]),
        )
    ):
        gaps.setdefault(gap.attempt_id, []).append(
            {
                "id": gap.id,
                "status": gap.status.value,
                "from": _iso(gap.started_at),
                "to": _iso(gap.ended_at),
                "lost_s": gap.lost_s,
                "proposed_s": gap.proposed_s,
            }
        )
    pauses = sittings.pauses_by_scope(session, {sitting_id})
    centre_pauses = pauses.get((sitting_id, None), ())
    out = []
    for r in rows:
        a: Attempt = r.Attempt
        seat: Seat = r.Seat
        timing = engine.Timing(
            start=sitting.start,
            end=sitting.end,
            extra_time=a.extra_time,
            pauses=centre_pauses + pauses.get((sitting_id, seat.room_id), ()),
        )
        paused = engine.is_paused(timing, now)
        out.append(
            {
                "attempt_id": a.id,
                "sitting_id": sitting_id,
                "room_id": seat.room_id,
                "seat": seat.number,
                "seat_label": f"{r.room_code}-{seat.number:02d}",
                "row": seat.row,
                "col": seat.col,
                "spare": seat.is_spare,
                "name": r.name,
                "ticket": r.ticket,
                "id_tail": r.id_number[-4:],
                "has_photo": bool(r.has_photo),
                "state": display_state(a.state, a.logged_in_at is not None),
                "logged_in_at": _iso(a.logged_in_at),
                "submitted_at": _iso(a.submitted_at),
                "submitted_by": a.submitted_by,
                "terminal_id": a.terminal_id,
                "answered": counts.get(a.id, 0),
                "items": len(items.get(a.paper_id) or ()),
                "extra_time_s": a.extra_time_s,
                "admitted_late": a.admitted_late,
                "relogin_authorised": a.relogin_authorised,
                "checked_in": r.checked_in_at is not None,
                "photo_mismatch": r.photo_matches is False,
                "deadline": None
                if a.state in engine.FINAL_STATES or paused
                else _iso(engine.deadline(timing, now)),
                "gaps": gaps.get(a.id, []),
            }
        )
    return out


def room_layout(session: Session, room_id: int) -> dict[str, Any]:
    room = session.get(Room, room_id)
    if room is None:
        raise LookupError(room_id)
    return {
        "room_id": room.id,
        "code": room.code,
        "name": room.name,
        "rows": room.rows,
        "cols": room.cols,
        "seats": [
            {
                "number": s.number,
                "row": s.row,
                "col": s.col,
                "spare": s.is_spare,
                "label": f"{room.code}-{s.number:02d}",
            }
            for s in room.seats
        ],
    }


def sitting_summary(session: Session, now: datetime, sitting: Sitting) -> dict[str, Any]:
    rules = sitting.rules
    centre_pause = session.scalar(
        select(Pause).where(
            Pause.sitting_id == sitting.id, Pause.room_id.is_(None), Pause.ended_at.is_(None)
        )
    )
    return {
        "sitting_id": sitting.id,
        "code": sitting.code,
        "subject": sitting.subject,
        "level": sitting.level,
        "trade": sitting.trade,
        "start": _iso(sitting.start),
        "end": _iso(sitting.end),
        "late_entry_until": _iso(sitting.start + rules.late_entry),
        "submit_from": _iso(sitting.start + rules.earliest_submit),
        "key_released_at": _iso(sitting.sitting_key_at) if sitting.sitting_key else None,
        "end_key": sitting.end_key is not None,
        "closed_at": _iso(sitting.closed_at),
        "centre_paused": centre_pause is not None,
        "centre_pause_reason": centre_pause.reason if centre_pause else None,
        "server_time": _iso(now),
    }


COUNT_KEYS = ("expected", "present", "answering", "submitted", "absent", "voided", "not_arrived")


def room_counts(session: Session, sitting_id: int) -> dict[int, dict[str, int]]:
    """Per room: expected, present (logged in at least once), answering, submitted,
    absent, voided, not arrived."""
    rows = session.execute(
        select(
            Seat.room_id,
            Attempt.state,
            (Attempt.logged_in_at.is_not(None)).label("came"),
            func.count(),
        )
        .join(Seat, Attempt.seat_id == Seat.id)
        .where(Attempt.sitting_id == sitting_id)
        .group_by(Seat.room_id, Attempt.state, "came")
    )
    out: dict[int, dict[str, int]] = {}
    for room_id, state, came, n in rows:
        c = out.setdefault(room_id, dict.fromkeys(COUNT_KEYS, 0))
        c["expected"] += n
        if came:
            c["present"] += n
        shown = display_state(AttemptState(state), bool(came))
        if shown in (ANSWERING, PAUSED):
            c["answering"] += n
        elif shown in (SUBMITTED, ABSENT, VOIDED, NOT_ARRIVED):
            c[shown] += n
    return out


def progress_series(
    session: Session, now: datetime, sitting: Sitting, points: int = 40
) -> dict[str, Any]:
    """How the sitting went, for the chief's chart: at each of ``points`` instants from
    the start to now (or the end), how many were logged in, had submitted, and the mean
    share of items answered (first answer per item counts)."""
    end = min(max(now, sitting.start), sitting.end)
    attempts = session.execute(
        select(Attempt.id, Attempt.logged_in_at, Attempt.submitted_at, Attempt.paper_id).where(
            Attempt.sitting_id == sitting.id
        )
    ).all()
    total = len(attempts)
    items: dict[int, list[dict[str, Any]]] = {
        k: v
        for k, v in session.execute(
            select(Paper.id, Paper.items).where(Paper.sitting_id == sitting.id)
        ).tuples()
    }
    first_answers = [
        at
        for (at,) in session.execute(
            select(func.min(Answer.server_time))
            .join(Attempt, Answer.attempt_id == Attempt.id)
            .where(Attempt.sitting_id == sitting.id, Answer.response != "")
            .group_by(Answer.attempt_id, Answer.item_id)
        )
    ]
    all_items = sum(len(items.get(a.paper_id) or ()) for a in attempts) or 1
    span = (end - sitting.start) / max(points - 1, 1)
    series = []
    for i in range(points):
        t = sitting.start + span * i
        series.append(
            {
                "t": _iso(t),
                "logged_in": sum(1 for a in attempts if a.logged_in_at and a.logged_in_at <= t),
                "submitted": sum(1 for a in attempts if a.submitted_at and a.submitted_at <= t),
                "answered_pct": round(100 * sum(1 for f in first_answers if f <= t) / all_items, 1),
            }
        )
    return {
        "start": _iso(sitting.start),
        "end": _iso(sitting.end),
        "now": _iso(now),
        "expected": total,
        "series": series,
    }
