"""What invigilators and the chief examiner do from the console, as service functions.

Each takes the caller's session, ``now`` and the acting user's name, checks the exam
rules (through :mod:`exam_server.sittings.engine` and the sitting services), changes the
attempt, writes who/when/what/why to the hash-chained log, and only flushes. The edge
(``views.py``) commits, then pushes to the terminals and the live map.

The attempt lifecycle actions here (late admission, absent, violation) sit beside the
sitting services rather than in ``sittings/service.py`` because that module's answer
path was being reworked concurrently; they use only its public functions and the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from exam_server.centres.models import Seat
from exam_server.console.lost_time import lost_answering_time, proposal
from exam_server.console.models import CheckIn, GapStatus, TerminalGap
from exam_server.eventlog import service as eventlog
from exam_server.plans.models import Pause, Sitting
from exam_server.sittings import engine
from exam_server.sittings import service as sittings
from exam_server.sittings.engine import AttemptState, RuleError
from exam_server.sittings.models import Attempt
from exam_server.sittings.service import ServiceError

#: longest single grant of extra time from the console (minutes)
MAX_EXTRA_MINUTES = 120
MAX_REASON = 500
MAX_BROADCAST = 200


def _reason(text: str | None, *, required: bool = True) -> str:
    text = (text or "").strip()
    if required and not text:
        raise ServiceError("reason_required")
    if len(text) > MAX_REASON:
        raise ServiceError("reason_too_long", f"at most {MAX_REASON} characters")
    return text


def load_attempt(session: Session, attempt_id: int) -> Attempt:
    attempt = session.scalar(
        select(Attempt)
        .options(
            joinedload(Attempt.seat).joinedload(Seat.room),
            joinedload(Attempt.sitting),
            joinedload(Attempt.candidate),
        )
        .where(Attempt.id == attempt_id)
    )
    if attempt is None:
        raise ServiceError("no_such_attempt", str(attempt_id))
    return attempt


def _log(
    session: Session,
    now: datetime,
    attempt: Attempt,
    kind: str,
    by: str,
    *,
    reason: str = "",
    data: dict[str, object] | None = None,
) -> None:
    eventlog.append(
        session,
        at=now,
        actor=by,
        kind=kind,
        sitting_id=attempt.sitting_id,
        room_id=attempt.seat.room_id,
        attempt_id=attempt.id,
        reason=reason,
        data={"ticket": attempt.candidate.ticket, "seat": attempt.seat.label} | (data or {}),
    )


# --- attempt actions ---------------------------------------------------------------------


def check_in(
    session: Session, now: datetime, attempt: Attempt, *, photo_matches: bool, note: str, by: str
) -> CheckIn:
    """签到: the invigilator compared the person with the registered photo. A mismatch
    needs a note (what was seen, what was done); checking again replaces the record."""
    if attempt.state in engine.FINAL_STATES:
        engine.transition(attempt.state, AttemptState.WAITING)  # raises the precise reason
    note = _reason(note, required=not photo_matches)
    row = session.scalar(select(CheckIn).where(CheckIn.attempt_id == attempt.id))
    if row is None:
        row = CheckIn(attempt_id=attempt.id, at=now, by=by, photo_matches=photo_matches, note=note)
        session.add(row)
    else:
        row.at, row.by, row.photo_matches, row.note = now, by, photo_matches, note
    session.flush()
    _log(
        session,
        now,
        attempt,
        "attempt.checked_in" if photo_matches else "attempt.photo_mismatch",
        by,
        reason=note,
        data={"photo_matches": photo_matches},
    )
    return row


def admit_late(session: Session, now: datetime, attempt: Attempt, *, reason: str, by: str) -> None:
    """Admit a late candidate (or one wrongly marked absent): only before
    ``start + late_entry``; they may then log in even after that window closes."""
    reason = _reason(reason)
    engine.check_late_admission(attempt.sitting.rules, sittings.timing_of(session, attempt), now)
    if attempt.logged_in_at is not None:
        raise ServiceError("already_logged_in")
    if attempt.state is AttemptState.ABSENT:
        attempt.state = engine.transition(attempt.state, AttemptState.WAITING)
    elif attempt.state is not AttemptState.WAITING:
        engine.transition(attempt.state, AttemptState.WAITING)  # raises the precise reason
    attempt.admitted_late = True
    session.flush()
    _log(session, now, attempt, "attempt.admitted_late", by, reason=reason)


def mark_absent(session: Session, now: datetime, attempt: Attempt, *, reason: str, by: str) -> None:
    """缺考: a candidate who has not logged in. Late admission can undo it while the
    late-entry window is open."""
    reason = _reason(reason, required=False)
    if attempt.logged_in_at is not None:
        raise ServiceError("candidate_present")
    attempt.state = engine.transition(attempt.state, AttemptState.ABSENT)
    attempt.admitted_late = False
    session.flush()
    _log(session, now, attempt, "attempt.absent", by, reason=reason or "监考标记缺考")


def void_attempt(
    session: Session, now: datetime, attempt: Attempt, *, reason: str, by: str
) -> None:
    """违纪: record the violation and void the subject (also after submission)."""
    reason = _reason(reason)
    previous = attempt.state
    attempt.state = engine.transition(attempt.state, AttemptState.VOIDED)
    session.flush()
    _log(session, now, attempt, "attempt.voided", by, reason=reason, data={"was": previous.value})


def grant_extra(
    session: Session, now: datetime, attempt: Attempt, *, minutes: int, reason: str, by: str
) -> datetime:
    reason = _reason(reason)
    if not 1 <= minutes <= MAX_EXTRA_MINUTES:
        raise ServiceError("bad_extra_time", f"1..{MAX_EXTRA_MINUTES} minutes")
    return sittings.grant_extra_time(
        session, now, attempt, timedelta(minutes=minutes), reason=reason, by=by
    )


def authorise_move(
    session: Session, now: datetime, attempt: Attempt, *, reason: str, by: str
) -> None:
    """Authorise a seat change or a re-login at another terminal (used once)."""
    sittings.authorise_relogin(session, now, attempt, reason=_reason(reason), by=by)


def force_submit(
    session: Session, now: datetime, attempt: Attempt, *, reason: str, by: str
) -> sittings.Receipt:
    reason = _reason(reason)
    receipt = sittings.force_submit(session, now, attempt, by)
    _log(session, now, attempt, "attempt.force_submitted", by, reason=reason)
    return receipt


# --- room and centre actions -------------------------------------------------------------


def _open_sitting(session: Session, sitting_id: int) -> Sitting:
    sitting = session.get(Sitting, sitting_id)
    if sitting is None:
        raise ServiceError("no_such_sitting", str(sitting_id))
    if sitting.closed_at is not None:
        raise ServiceError("sitting_closed")
    return sitting


def pause(
    session: Session, now: datetime, sitting_id: int, room_id: int | None, *, reason: str, by: str
) -> Pause:
    """Stop the clock for a room, or the whole centre (``room_id`` None)."""
    sitting = _open_sitting(session, sitting_id)
    if now >= sitting.end and not session.scalar(
        select(Attempt.id).where(
            Attempt.sitting_id == sitting_id,
            Attempt.state.in_([AttemptState.IN_PROGRESS, AttemptState.PAUSED]),
        )
    ):
        raise ServiceError("sitting_closed")
    return sittings.start_pause(
        session, now, sitting_id=sitting_id, room_id=room_id, reason=_reason(reason), by=by
    )


def open_pause(session: Session, sitting_id: int, room_id: int | None) -> Pause | None:
    """The pause in force for exactly this scope (not the server's own key wait)."""
    return session.scalar(
        select(Pause).where(
            Pause.sitting_id == sitting_id,
            Pause.room_id.is_(None) if room_id is None else Pause.room_id == room_id,
            Pause.ended_at.is_(None),
            Pause.by != sittings.KEY_WAIT,
        )
    )


def resume(
    session: Session, now: datetime, sitting_id: int, room_id: int | None, *, by: str
) -> Pause:
    pause_ = open_pause(session, sitting_id, room_id)
    if pause_ is None:
        raise ServiceError("not_paused")
    return sittings.end_pause(session, now, pause_.id, by=by)


def broadcast(
    session: Session, now: datetime, sitting_id: int, room_id: int | None, *, text: str, by: str
) -> str:
    text = (text or "").strip()
    if not text:
        raise ServiceError("message_required")
    if len(text) > MAX_BROADCAST:
        raise ServiceError("message_too_long", f"at most {MAX_BROADCAST} characters")
    _open_sitting(session, sitting_id)
    eventlog.append(
        session,
        at=now,
        actor=by,
        kind="room.broadcast",
        sitting_id=sitting_id,
        room_id=room_id,
        data={"text": text, "scope": "centre" if room_id is None else "room"},
    )
    return text


def attempt_ids_in(session: Session, sitting_id: int, room_id: int | None) -> list[int]:
    query = select(Attempt.id).where(Attempt.sitting_id == sitting_id)
    if room_id is not None:
        query = query.join(Seat, Attempt.seat_id == Seat.id).where(Seat.room_id == room_id)
    return list(session.scalars(query))


# --- lost time ---------------------------------------------------------------------------


def open_gap(
    session: Session, at: datetime, attempt_id: int, *, seat_label: str, terminal_id: str
) -> TerminalGap | None:
    """A logged-in terminal went silent: start counting (once per attempt)."""
    attempt = session.get(Attempt, attempt_id)
    if attempt is None or attempt.state in engine.FINAL_STATES:
        return None
    existing = session.scalar(
        select(TerminalGap).where(
            TerminalGap.attempt_id == attempt_id, TerminalGap.status == GapStatus.OPEN
        )
    )
    if existing is not None:
        return existing
    gap = TerminalGap(
        attempt_id=attempt_id,
        seat_label=seat_label[:32],
        terminal_id=terminal_id[:64],
        started_at=at,
        status=GapStatus.OPEN,
    )
    session.add(gap)
    session.flush()
    return gap


def close_gaps(
    session: Session, at: datetime, attempt_id: int, *, minimum: timedelta
) -> list[TerminalGap]:
    """The candidate is back (logged in again) or the attempt ended: close the open gap
    and work out the answering time it cost. Returns the gaps now proposed."""
    gaps = list(
        session.scalars(
            select(TerminalGap).where(
                TerminalGap.attempt_id == attempt_id, TerminalGap.status == GapStatus.OPEN
            )
        )
    )
    if not gaps:
        return []
    attempt = load_attempt(session, attempt_id)
    timing = sittings.timing_of(session, attempt)
    proposed = []
    for gap in gaps:
        gap.ended_at = at
        lost = lost_answering_time(gap.started_at, at, timing)
        offer = (
            proposal(lost, minimum) if attempt.state not in engine.FINAL_STATES else timedelta(0)
        )
        gap.lost_s = int(lost.total_seconds())
        gap.proposed_s = int(offer.total_seconds())
        gap.status = GapStatus.PROPOSED if offer else GapStatus.IGNORED
        if offer:
            proposed.append(gap)
            _log(
                session,
                at,
                attempt,
                "lost_time.detected",
                "server",
                data={
                    "gap_id": gap.id,
                    "from": gap.started_at.isoformat(),
                    "to": at.isoformat(),
                    "lost_s": gap.lost_s,
                    "proposed_s": gap.proposed_s,
                },
            )
    session.flush()
    return proposed


@dataclass(frozen=True)
class GapDecision:
    gap: TerminalGap
    attempt: Attempt
    new_deadline: datetime | None


def _proposed_gap(session: Session, gap_id: int) -> TerminalGap:
    gap = session.get(TerminalGap, gap_id, with_for_update=True)
    if gap is None:
        raise ServiceError("no_such_gap", str(gap_id))
    if gap.status is not GapStatus.PROPOSED:
        raise ServiceError("gap_decided", gap.status.value)
    return gap


def accept_lost_time(
    session: Session,
    now: datetime,
    gap_id: int,
    *,
    minutes: int | None,
    by: str,
    tz: tzinfo,
) -> GapDecision:
    """Credit a detected gap as extra time: the proposal, or the minutes the invigilator
    set instead. The reason names the gap's times in ``tz``, the centre's time zone."""
    gap = _proposed_gap(session, gap_id)
    attempt = load_attempt(session, gap.attempt_id)
    minutes = minutes if minutes is not None else gap.proposed_s // 60
    reason = (
        f"终端失联 {gap.lost_s} 秒（系统检测，{_hm(gap.started_at, tz)}–{_hm(gap.ended_at, tz)}）"
        f" / terminal out of contact (detected)"
    )
    new_deadline = grant_extra(session, now, attempt, minutes=minutes, reason=reason, by=by)
    gap.status, gap.credited_s = GapStatus.CREDITED, minutes * 60
    gap.decided_by, gap.decided_at = by, now
    session.flush()
    return GapDecision(gap, attempt, new_deadline)


def dismiss_lost_time(
    session: Session, now: datetime, gap_id: int, *, reason: str, by: str
) -> GapDecision:
    gap = _proposed_gap(session, gap_id)
    attempt = load_attempt(session, gap.attempt_id)
    gap.status, gap.decided_by, gap.decided_at = GapStatus.DISMISSED, by, now
    session.flush()
    _log(
        session,
        now,
        attempt,
        "lost_time.dismissed",
        by,
        reason=_reason(reason, required=False) or "监考确认未损失作答时间",
        data={"gap_id": gap.id, "proposed_s": gap.proposed_s},
    )
    return GapDecision(gap, attempt, None)


def _hm(at: datetime | None, tz: tzinfo) -> str:
    return at.astimezone(tz).strftime("%H:%M:%S") if at else "?"


def refuse_if_rule(exc: Exception) -> str:
    """The machine code of a refusal raised by a service or the engine."""
    if isinstance(exc, RuleError):
        return exc.code.value
    if isinstance(exc, ServiceError):
        return exc.code
    raise exc
